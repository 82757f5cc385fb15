// A "Forgot your password?" flood from its own process: every request from another client
// address (X-Forwarded-For; the bench's own address is a trusted proxy), all naming one account.
// argv: JSON { url, headers, identifier, csrf, connections, duration, maxOverallRequests } ; prints a JSON summary.
import autocannon from "autocannon";

const options = JSON.parse(process.argv[2]);
let n = 0;
const body = new URLSearchParams({ csrf: options.csrf, identifier: options.identifier }).toString();
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.duration,
  maxOverallRequests: options.maxOverallRequests,
  timeout: 10,
  requests: [
    {
      method: "POST",
      body,
      setupRequest(request) {
        n += 1;
        return { ...request, headers: { ...options.headers, "x-forwarded-for": `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` } };
      },
    },
  ],
});
process.stdout.write(JSON.stringify({ requests: result.requests.total, statusCodeStats: result.statusCodeStats, errors: result.errors, timeouts: result.timeouts }) + "\n");
