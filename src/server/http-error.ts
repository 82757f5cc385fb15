/** One error type for the HTTP side, rendered by one handler into an error page. */
export class HttpError extends Error {
  readonly status: number;
  readonly heading: string;
  readonly details: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    options: { heading: string; message: string; details?: string | null; headers?: Record<string, string> },
  ) {
    super(options.message);
    this.name = "HttpError";
    this.status = status;
    this.heading = options.heading;
    this.details = options.details ?? null;
    this.headers = options.headers ?? {};
  }
}
