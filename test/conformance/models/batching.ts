// Models for test/conformance/test_batching.py: dynamic batching, instances and queue policies
// driven by tritonclient and perf_analyzer. Served with `tensorbind serve` by the test itself.
import { fileURLToPath } from "node:url";
import { batch, bind, python, tensor } from "tensorbind";

const FIXTURES = fileURLToPath(new URL("../../../python/tests/fixtures/models.py", import.meta.url));

// perf_analyzer's INPUT0 -> OUTPUT0 shape, doubled, in batches of up to 32 rows.
bind({
  name: "batching_js",
  maxBatchSize: 32,
  instances: 2,
  batching: { maxQueueDelayMs: 10, preferredBatchSizes: [8, 16] },
  inputs: { INPUT0: tensor("FP32", [16]) },
  outputs: { OUTPUT0: tensor("FP32", [16]) },
  fn: batch(({ INPUT0 }) => ({ OUTPUT0: (INPUT0!.data as Float32Array).map((v) => v * 2) })),
});

// A Python model with @tensorbind.batch (x + 1, and the rows of the batch that served it).
bind({
  name: "batching_py",
  fn: python(FIXTURES, "batched", { instances: 2 }),
  // Long enough that a burst of single-row requests from one client is merged even on a slow,
  // shared machine (test_python_model_gets_batches_through_tritonclient asserts batches formed).
  batching: { maxQueueDelayMs: 20 },
});

// One request at a time, slowly, without batching: for priorities, timeouts and a bounded queue.
bind({
  name: "queue_policy",
  queue: { maxSize: 4, priorityLevels: 2, defaultPriorityLevel: 2, priorities: { 1: { maxSize: 8 } } },
  inputs: { INPUT0: tensor("INT32", [1, 1]) },
  outputs: { OUTPUT0: tensor("INT32", [1, 1]) },
  fn: async ({ INPUT0 }) => {
    await new Promise((r) => setTimeout(r, 200));
    return { OUTPUT0: INPUT0! };
  },
});
