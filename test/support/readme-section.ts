/**
 * Code blocks of one `## ` section of README.md, exactly as written there. Unlike the proxy
 * snippets' helper it reads fences properly, since unit files and YAML hold `#` comment lines.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../README.md");

/** Every ```language block of the `## heading` section, in order. */
export function readmeSectionBlocks(heading: string, language: string): string[] {
  const lines = fs.readFileSync(README, "utf8").split("\n");
  const start = lines.indexOf(`## ${heading}`);
  if (start === -1) throw new Error(`README.md has no "## ${heading}" section`);
  const blocks: string[] = [];
  let inside: string[] | null = null;
  let fenceLanguage = "";
  for (const line of lines.slice(start + 1)) {
    if (inside === null && /^## /.test(line)) break;
    if (line.startsWith("```")) {
      if (inside === null) {
        inside = [];
        fenceLanguage = line.slice(3).trim();
      } else {
        if (fenceLanguage === language) blocks.push(inside.join("\n") + "\n");
        inside = null;
      }
      continue;
    }
    inside?.push(line);
  }
  return blocks;
}

/** The one block of the section that contains `mustContain`. */
export function readmeSectionBlock(heading: string, language: string, mustContain: string): string {
  const found = readmeSectionBlocks(heading, language).filter((block) => block.includes(mustContain));
  if (found.length !== 1) throw new Error(`README.md's "## ${heading}" has ${found.length} \`\`\`${language} blocks containing ${mustContain}`);
  return found[0]!;
}
