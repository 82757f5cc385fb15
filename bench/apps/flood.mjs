// Load from its own process (for a flood that must not share the measuring event loop, or a
// generator pinned to other cores than the server's). argv: JSON options for autocannon; prints a JSON summary.
import autocannon from "autocannon";

const options = JSON.parse(process.argv[2]);
const result = await autocannon(options);
const stats = result.statusCodeStats ?? {};
process.stdout.write(JSON.stringify({
  requests: result.requests.total,
  statusCodeStats: stats,
  errors: result.errors,
  timeouts: result.timeouts,
  ok200: stats["200"]?.count ?? 0,
  p50: result.latency.p50,
  p99: result.latency.p99,
  max: result.latency.max,
}) + "\n");
