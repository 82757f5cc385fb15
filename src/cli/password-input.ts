/** Reading a password: the first line of stdin with --password-stdin, else a no-echo prompt on a TTY. */
import { Option } from "commander";
import { SsoctlError, UsageError } from "../errors.js";
import { passwordProblem } from "../password-policy.js";

const MAX_STDIN_BYTES = 64 * 1024;

export interface PasswordSource {
  passwordStdin?: boolean | undefined;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
}

/** A hidden `--password` that explains why it is refused: argv is visible to every user of the machine. */
export function refusePasswordOption(): Option {
  return new Option("--password <password>").hideHelp().argParser(() => {
    throw new UsageError("passwords are never taken as arguments (they would show in ps and shell history); use --password-stdin");
  });
}

/** Reads a new password and applies the password policy. */
export async function readNewPassword(source: PasswordSource): Promise<string> {
  const password = await readPassword(source, { confirm: true });
  const problem = passwordProblem(password);
  if (problem !== null) throw new SsoctlError(problem);
  return password;
}

export async function readPassword(source: PasswordSource, options: { confirm: boolean }): Promise<string> {
  const stdin = source.stdin ?? process.stdin;
  const stderr = source.stderr ?? process.stderr;
  if (source.passwordStdin) {
    const line = await readFirstLine(stdin);
    if (line === "") throw new SsoctlError("no password on standard input (--password-stdin reads its first line)");
    return line;
  }
  if (!stdin.isTTY) {
    throw new UsageError(
      "no password given: pass --password-stdin and write it to standard input, or run on a terminal to be asked for it",
    );
  }
  const first = await promptHidden("Password: ", stdin, stderr);
  if (!options.confirm) return first;
  const second = await promptHidden("Repeat password: ", stdin, stderr);
  if (first !== second) throw new SsoctlError("the two passwords differ; nothing was changed");
  return first;
}

export async function readFirstLine(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(buffer);
    size += buffer.length;
    if (buffer.includes(0x0a)) break;
    if (size > MAX_STDIN_BYTES) throw new SsoctlError("the password on standard input is too long");
  }
  const text = Buffer.concat(chunks).toString("utf8");
  const newline = text.indexOf("\n");
  const line = newline === -1 ? text : text.slice(0, newline);
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

function promptHidden(prompt: string, stdin: NodeJS.ReadStream, stderr: NodeJS.WriteStream): Promise<string> {
  return new Promise((resolve, reject) => {
    stderr.write(prompt);
    let value = "";
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.resume();
    const finish = (error: Error | null): void => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.removeListener("data", onData);
      stderr.write("\n");
      if (error === null) resolve(value);
      else reject(error);
    };
    const onData = (text: string): void => {
      for (const char of text) {
        if (char === "\r" || char === "\n") return finish(null);
        if (char === "\u0003") return finish(new SsoctlError("interrupted; nothing was changed", { exitCode: 130 }));
        if (char === "\u0004" && value === "") return finish(new SsoctlError("no password entered"));
        if (char === "\u007f" || char === "\b") value = [...value].slice(0, -1).join("");
        else if (char >= " ") value += char;
      }
    };
    stdin.on("data", onData);
  });
}
