// A sign-in flood from its own process, so it does not share an event loop with the measured load.
// argv: JSON options for autocannon ; prints a JSON summary.
import autocannon from "autocannon";

const options = JSON.parse(process.argv[2]);
const result = await autocannon(options);
process.stdout.write(JSON.stringify({ requests: result.requests.total, statusCodeStats: result.statusCodeStats, errors: result.errors, timeouts: result.timeouts }) + "\n");
