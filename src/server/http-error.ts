/** One error type for the HTTP side, rendered by one handler into an error page. */
export class HttpError extends Error {
  readonly status: number;
  readonly heading: string;
  readonly details: string | null;
  readonly headers: Record<string, string>;
  /** A way on from the error page, as a button; a path on this server (the page adds the base path). */
  readonly link: { path: string; text: string } | null;

  constructor(
    status: number,
    options: { heading: string; message: string; details?: string | null; headers?: Record<string, string>; link?: { path: string; text: string } },
  ) {
    super(options.message);
    this.name = "HttpError";
    this.status = status;
    this.heading = options.heading;
    this.details = options.details ?? null;
    this.headers = options.headers ?? {};
    this.link = options.link ?? null;
  }
}
