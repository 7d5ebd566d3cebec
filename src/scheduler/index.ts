// Public surface of the scheduler policy.
export { Scheduler, type WorkerUsage } from './scheduler.js';
export { resolveSchedulerConfig, DEFAULT_CAPACITY_GRANULE } from './config.js';
export { Sequence, type SequenceRequest, type SequenceView, type SeqStatus } from './sequence.js';
export { WorkerKvAccount, capacityFor, type KvLimits } from './kv-accounting.js';
export * from './errors.js';
export type * from './types.js';
