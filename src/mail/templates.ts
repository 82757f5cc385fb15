/**
 * The messages' text: `views/mail/<kind>.txt.ejs` (its first line `Subject: …`) and
 * `<kind>.html.ejs` inside `layout.html.ejs`. An admin overrides any of them in `<views>/mail/`,
 * as with the pages. Compiled once, at start-up: a broken override fails then.
 * Every value is escaped: HTML-escaped in the HTML part, control characters removed in the text.
 */
import ejs from "ejs";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { headerTextProblem } from "./address.js";

export const MAIL_KINDS = ["test", "password-reset", "invitation", "notice"] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

const BUILTIN_VIEWS = fileURLToPath(new URL("../../views/", import.meta.url));

type Template = (locals: Record<string, unknown>) => string;

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** The text part's escape: a value cannot add lines or terminal control sequences to the message. */
function escapeText(value: unknown): string {
  return String(value ?? "").replace(/[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029]/g, "").replace(/\n/g, " ");
}

export class MailTemplates {
  private readonly templates = new Map<string, Template>();

  /** Throws an Error naming the template when one does not compile. */
  constructor(
    private readonly site: { title: string; publicUrl: string },
    viewsDir?: string,
  ) {
    const names = ["layout.html", ...MAIL_KINDS.flatMap((kind) => [`${kind}.txt`, `${kind}.html`])];
    for (const name of names) {
      const override = viewsDir === undefined ? undefined : path.join(viewsDir, "mail", `${name}.ejs`);
      const file = override !== undefined && fs.existsSync(override) ? override : path.join(BUILTIN_VIEWS, "mail", `${name}.ejs`);
      const options = name.endsWith(".txt") ? { filename: file, strict: false, escape: escapeText } : { filename: file, strict: false };
      try {
        this.templates.set(name, ejs.compile(fs.readFileSync(file, "utf8"), options) as Template);
      } catch (error) {
        throw new Error(`the mail template ${file} does not compile: ${(error as Error).message.split("\n")[0]}`);
      }
    }
  }

  /** Throws a TypeError when the subject the template makes could not be a header line. */
  render(kind: MailKind, values: Record<string, unknown>): RenderedMail {
    const locals = { ...values, title: this.site.title, publicUrl: this.site.publicUrl };
    const textOut = this.templates.get(`${kind}.txt`)!(locals).replace(/^\s+/, "");
    const match = /^Subject:[ \t]*([^\r\n]*)\r?\n/.exec(textOut);
    if (match === null) throw new TypeError(`the mail template ${kind}.txt.ejs must start with a "Subject: …" line`);
    const subject = match[1]!.trim();
    const problem = headerTextProblem(subject, "the subject");
    if (problem !== null) throw new TypeError(problem);
    const text = textOut.slice(match[0].length).replace(/^\s*\n/, "");
    const body = this.templates.get(`${kind}.html`)!(locals);
    const html = this.templates.get("layout.html")!({ ...locals, subject, body });
    return { subject, text, html };
  }
}
