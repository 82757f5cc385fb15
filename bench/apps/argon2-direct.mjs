// argon2 verifications per second done directly, CONCURRENCY at once, for SECONDS.
// argv: HASH PASSWORD CONCURRENCY SECONDS ; prints {"count","seconds"} as JSON.
import argon2 from "argon2";

const [hash, password, concurrencyText, secondsText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const deadline = performance.now() + Number(secondsText) * 1000;
const started = performance.now();
let count = 0;
async function loop() {
  while (performance.now() < deadline) {
    if (!(await argon2.verify(hash, password.normalize("NFKC")))) throw new Error("the password did not verify");
    count += 1;
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));
process.stdout.write(JSON.stringify({ count, seconds: (performance.now() - started) / 1000 }) + "\n");
