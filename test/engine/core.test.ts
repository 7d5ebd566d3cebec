// EngineCore's failure ordering, with fake devices whose steps settle when the
// test says so, and a fake actor channel: no threads, no onnxruntime.

import t, { type Test as Tap } from 'tap';
import { EngineCore, type CoreChannel, type Device } from '../../src/engine/actor/core.js';
import { resolveEngineConfig } from '../../src/engine/config.js';
import type { ActorToFrontMessage, FinishedMessage, FrontToActorMessage, StatsMessage, TokensMessage } from '../../src/engine/channel/messages.js';
import { DEFAULT_SAMPLING_PARAMS } from '../../src/sampling/params.js';
import type { AnnouncedSamples, DeviceStep, DeviceStepResult } from '../../src/worker/types.js';

class FakeChannel implements CoreChannel {
  closed = false;
  readonly sent: ActorToFrontMessage[] = [];
  private readonly inbox: FrontToActorMessage[] = [];
  private wake: (() => void) | null = null;

  deliver(msg: FrontToActorMessage): void {
    this.inbox.push(msg);
    this.wake?.();
  }
  poll(): FrontToActorMessage[] {
    return this.inbox.splice(0);
  }
  hasMessages(): boolean {
    return this.inbox.length > 0;
  }
  async waitForMessagesAsync(timeoutMs: number): Promise<void> {
    if (this.inbox.length > 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }
  send(msg: ActorToFrontMessage): boolean {
    this.sent.push(msg);
    return true;
  }
  trySend(msg: ActorToFrontMessage): boolean {
    return this.send(msg);
  }

  finished(): FinishedMessage[] {
    return this.sent.filter((msg): msg is FinishedMessage => msg.type === 'finished');
  }
  tokens(reqId: number): number[] {
    return this.sent.filter((msg): msg is TokensMessage => msg.type === 'tokens' && msg.reqId === reqId).flatMap((msg) => msg.tokenIds);
  }
  lastStats(): StatsMessage | undefined {
    return this.sent.filter((msg): msg is StatsMessage => msg.type === 'stats').at(-1);
  }
  statsCount(): number {
    return this.sent.filter((msg) => msg.type === 'stats').length;
  }
}

interface PendingStep {
  step: DeviceStep;
  resolve(result: DeviceStepResult): void;
  reject(error: Error): void;
}

/** A device whose steps wait until the test settles them. */
class FakeDevice implements Device {
  readonly steps: PendingStep[] = [];
  readonly probes: Array<() => void> = [];
  private settled = 0;
  private listener: ((announced: AnnouncedSamples) => void) | null = null;

  onAnnouncedSamples(listener: (announced: AnnouncedSamples) => void): void {
    this.listener = listener;
  }
  /** As the worker posts a sample of step `index` before that step's result. */
  announce(index: number, seqId: string, token = 5): void {
    const tag = this.steps[index].step.announce;
    if (tag === undefined) throw new Error(`step ${index} asked for no announcements`);
    this.listener?.({ step: tag, samples: [{ seqId, token, logprob: null }] });
  }

  run(step: DeviceStep): Promise<DeviceStepResult> {
    return new Promise((resolve, reject) => this.steps.push({ step, resolve, reject }));
  }
  ready(): Promise<void> {
    return new Promise((resolve) => this.probes.push(resolve));
  }
  /** Steps dispatched and not yet settled by the test. */
  get open(): PendingStep[] {
    return this.steps.slice(this.settled);
  }
  succeed(index: number, token = 5): void {
    const { step, resolve } = this.steps[index];
    this.settled++;
    resolve(resultFor(step, token));
  }
  fail(index: number): void {
    this.settled++;
    this.steps[index].reject(new Error(`device step ${index} failed`));
  }
  admitted(): string[] {
    return this.steps.flatMap(({ step }) => step.admit.map((admission) => admission.seqId));
  }
}

function resultFor(step: DeviceStep, token: number): DeviceStepResult {
  return {
    samples: step.rows.filter((row) => row.sample).map((row) => ({ seqId: row.seqId, token, logprob: null })),
    promptLogprobs: [],
    forwardMs: 0,
    stepMs: 1,
    decodeRows: 0,
    prefillTokens: 0,
    sharedPrefillTokens: 0,
  };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function start(t: Tap, pipelineDepth: 1 | 2, workers = 2) {
  const channel = new FakeChannel();
  const devices = Array.from({ length: workers }, () => new FakeDevice());
  const config = resolveEngineConfig({ modelDir: 'unused', workers, maxBatchSize: 4, pipelineDepth });
  const core = new EngineCore(channel, devices, config, { maxModelLen: 64, eosTokenIds: [0] });
  const running = core.run();
  const submit = (reqId: number, prompt: number[], maxTokens = 8): void =>
    channel.deliver({ type: 'submit', reqId, promptTokenIds: prompt, params: { ...DEFAULT_SAMPLING_PARAMS, temperature: 0, maxTokens }, arrivalTime: Date.now() });
  /** Settles every step and probe still open, then shuts the core down. */
  const stop = async (): Promise<void> => {
    channel.deliver({ type: 'shutdown' });
    const drain = setInterval(() => {
      for (const device of devices) {
        for (const pending of device.open) device.succeed(device.steps.indexOf(pending));
        for (const probe of device.probes.splice(0)) probe();
      }
    }, 1);
    await running;
    clearInterval(drain);
  };
  t.teardown(stop);
  return { channel, devices, core, submit };
}

t.test('a failed step fails exactly that worker\'s sequences; the other worker\'s continue', async (t) => {
  const { channel, devices, submit } = start(t, 1);
  submit(1, [1, 2, 3], 3);
  submit(2, [4, 5, 6], 3);
  await until('both workers have a step', () => devices.every((device) => device.steps.length === 1));
  const [a, b] = devices;
  t.same(a.admitted(), ['1'], 'request 1 on worker 0');
  t.same(b.admitted(), ['2'], 'request 2 on worker 1');

  a.fail(0);
  await until('request 1 finished', () => channel.finished().length === 1);
  t.match(channel.finished()[0], { reqId: 1, reason: 'error', error: { code: 'device_error', message: /device step 0 failed/ } });

  for (let i = 0; i < 3; i++) {
    await until(`worker 1 step ${i}`, () => b.steps.length > i);
    b.succeed(i);
  }
  await until('request 2 finished', () => channel.finished().length === 2);
  t.match(channel.finished()[1], { reqId: 2, reason: 'length', completionTokens: 3 });
  t.same(channel.tokens(2), [5, 5, 5], 'request 2 got every token');
  t.same(channel.tokens(1), [], 'request 1 got none');
});

t.test('a step queued behind a failed one is the same failure: one finish per sequence, one failure counted', async (t) => {
  const { channel, devices, submit } = start(t, 2, 1);
  const [device] = devices;
  submit(1, [1, 2, 3]);
  await until('the prefill and the decode step behind it', () => device.steps.length === 2);
  device.succeed(0);
  await until('two steps queued (pipelineDepth 2)', () => device.steps.length === 3);
  submit(2, [7, 8]);
  device.fail(1);
  device.fail(2);
  await until('request 1 failed', () => channel.finished().length >= 1);
  // Two stats snapshots later the actor has had a whole interval to fail request 2 wrongly.
  const snapshots = channel.statsCount();
  await until('two stats snapshots after the failure', () => channel.statsCount() >= snapshots + 2);
  t.same(
    channel.finished().map((msg) => [msg.reqId, msg.reason]),
    [[1, 'error']],
    'request 1 failed once; request 2 (admitted after the failure) was not failed by the step queued behind it',
  );
  t.equal(channel.lastStats()?.deviceFailures, 1, 'counted once');
});

t.test('the next step to a failed worker carries resetAll; a probe marks it recovering until ready() resolves', async (t) => {
  const { channel, devices, submit } = start(t, 1, 1);
  const [device] = devices;
  submit(1, [1, 2, 3]);
  await until('first step', () => device.steps.length === 1);
  t.notOk(device.steps[0].step.resetAll, 'a healthy worker is not reset');
  device.fail(0);
  await until('probe', () => device.probes.length === 1);
  await until('stats report it recovering', () => channel.lastStats()?.recoveringWorkers?.includes(0) === true);

  submit(2, [4, 5]);
  await until('next step', () => device.steps.length === 2);
  t.equal(device.steps[1].step.resetAll, true, 'the step after the failure drops every slot');
  device.succeed(1);
  await until('third step', () => device.steps.length === 3);
  t.notOk(device.steps[2].step.resetAll, 'only once');
  t.ok(channel.lastStats()?.recoveringWorkers?.includes(0), 'still recovering while ready() is pending');

  device.probes[0]();
  await until('recovered', () => channel.lastStats()?.recoveringWorkers?.length === 0);
  t.pass('no longer reported recovering once ready() resolved');
});

t.test('results are applied in plan order per worker even when steps settle out of order', async (t) => {
  const { channel, devices, submit } = start(t, 2, 1);
  const [device] = devices;
  submit(1, [1, 2, 3], 8);
  await until('the prefill and the decode step behind it', () => device.steps.length === 2);
  device.succeed(0, 11); // the prompt's chunk and its follow-on row
  await until('two steps in flight', () => device.steps.length === 3);
  // The later step settles first; its token must still come second.
  device.succeed(2, 13);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(channel.tokens(1), [11, 11], 'the later result waits for the earlier one');
  device.succeed(1, 12);
  await until('both applied', () => channel.tokens(1).length === 4);
  t.same(channel.tokens(1), [11, 11, 12, 13]);
});

t.test('exitAfterInFlight waits for the steps in flight and dispatches none meanwhile', async (t) => {
  const { devices, core, submit } = start(t, 1, 1);
  const [device] = devices;
  submit(1, [1, 2, 3]);
  await until('a step in flight', () => device.steps.length === 1);
  const exits: number[] = [];
  core.exitAfterInFlight(70, (code) => exits.push(code));
  submit(2, [4, 5]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(exits, [], 'not while a step runs');
  device.succeed(0);
  await until('exit', () => exits.length === 1);
  t.same(exits, [70]);
  t.equal(device.steps.length, 1, 'no step dispatched after the exit began');
});

t.test('a sample announced before its step ends is streamed at once, and only once', async (t) => {
  const { channel, devices, submit } = start(t, 1, 1);
  const [device] = devices;
  submit(1, [1, 2, 3], 3);
  submit(2, [4, 5], 3);
  await until('one step admits both', () => device.steps.length === 1);
  t.same(
    device.steps[0].step.rows.map((row) => row.seqId),
    ['1', '1', '2', '2'],
    'each prompt chunk with its follow-on row',
  );
  device.announce(0, '1', 7);
  await until('request 1 streams its first token', () => channel.tokens(1).length === 1);
  t.same(channel.tokens(2), [], 'request 2 waits for the step');
  t.match(
    channel.sent.find((msg) => msg.type === 'tokens' && msg.reqId === 1),
    { tokenIds: [7], cachedTokens: 0, queueTimeMs: Number },
    'the first-token fields travel with it',
  );
  device.announce(0, '1', 7); // a repeat
  device.succeed(0); // every sample 5 (the chunk's sample really was the 7 announced)
  await until('the decode step', () => device.steps.length === 2);
  t.same(channel.tokens(1), [7, 5], "the step result does not send the announced token again, but does send its follow-on row's");
  t.same(channel.tokens(2), [5, 5]);
  device.announce(0, '2'); // arrives after its step's result, while request 2 has a row in the next step
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(channel.tokens(2), [5, 5], "a late announcement is not taken for the next step's sample");
  device.succeed(1, 6);
  await until('both finished', () => channel.finished().length === 2);
  t.same(channel.tokens(1), [7, 5, 6]);
  t.same(channel.tokens(2), [5, 5, 6]);
});

t.test('announced samples of an aborted request or a failed step go nowhere', async (t) => {
  const { channel, devices, submit } = start(t, 1, 1);
  const [device] = devices;
  submit(1, [1, 2, 3], 2);
  submit(2, [4, 5], 2);
  await until('first step', () => device.steps.length === 1);
  channel.deliver({ type: 'cancel', reqId: 1 });
  await until('request 1 aborted', () => channel.finished().some((msg) => msg.reqId === 1));
  device.announce(0, '1');
  device.announce(0, '2');
  await until('request 2 streams', () => channel.tokens(2).length === 1);
  device.fail(0);
  await until('request 2 failed', () => channel.finished().some((msg) => msg.reqId === 2));
  t.same(channel.tokens(1), [], 'nothing for the aborted request');
  t.match(channel.finished().find((msg) => msg.reqId === 2), { reason: 'error' }, 'a token announced, then the step failed: the request fails');
});

t.test('pipelined steps ask for no announcements', async (t) => {
  const { devices, submit } = start(t, 2, 1);
  submit(1, [1, 2], 2);
  await until('a pipelined step', () => devices[0].steps.length >= 1);
  t.same(devices[0].steps.map(({ step }) => step.announce), devices[0].steps.map(() => undefined), 'no announce tag with pipelineDepth 2');
});
