// Download progress: a bar per file on a terminal (bytes, rate, ETA, on
// stderr), or rate-limited log lines when the output is not a terminal.

export interface DownloadProgress {
  /** A file starts downloading, or resumes at byte `from` (a previous attempt's part). */
  start(file: string, total: number, from?: number): void;
  /** Bytes of the file received so far. */
  update(file: string, bytes: number): void;
  done(file: string, bytes: number): void;
  retry(file: string, attempt: number, reason: string): void;
}

/** The logging surface used here: a subset of pino's API. */
export interface ProgressLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const silentProgress: DownloadProgress = { start() {}, update() {}, done() {}, retry() {} };

interface FileState {
  total: number;
  startedAt: number;
  /** Bytes already there when this attempt started (resumed). */
  from: number;
  bytes: number;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Average rate since this attempt started, in bytes per second. */
function rateOf(state: FileState, now: number): number {
  const seconds = (now - state.startedAt) / 1000;
  return seconds > 0 ? (state.bytes - state.from) / seconds : 0;
}

/** One redrawn line per file on a terminal stream. */
export function terminalProgress(out: NodeJS.WriteStream, now: () => number = Date.now): DownloadProgress {
  const files = new Map<string, FileState>();
  const draw = (file: string, final: boolean): void => {
    const s = files.get(file);
    if (s === undefined) return;
    const t = now();
    const rate = rateOf(s, t);
    const pct = s.total > 0 ? Math.min(100, Math.floor((s.bytes / s.total) * 100)) : 100;
    const width = 20;
    const filled = Math.round((pct / 100) * width);
    const eta = final ? `in ${formatSeconds((t - s.startedAt) / 1000)}` : `ETA ${rate > 0 ? formatSeconds((s.total - s.bytes) / rate) : '--:--'}`;
    const line = `${file} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${formatBytes(s.bytes)} / ${formatBytes(s.total)} ${pct}% ${formatBytes(rate)}/s ${eta}`;
    out.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
  };
  return {
    start(file, total, from = 0) {
      files.set(file, { total, startedAt: now(), from, bytes: from });
      draw(file, false);
    },
    update(file, bytes) {
      const s = files.get(file);
      if (s === undefined || bytes === s.bytes) return;
      s.bytes = bytes;
      draw(file, false);
    },
    done(file, bytes) {
      const s = files.get(file);
      if (s === undefined) return;
      s.bytes = bytes;
      draw(file, true);
      files.delete(file);
    },
    retry(file, attempt, reason) {
      out.write(`\r\x1b[K${file}: attempt ${attempt} failed (${reason}); retrying\n`);
    },
  };
}

/** Log lines: one when a file starts and ends, one every `everyMs` in between. */
export function logProgress(log: ProgressLog, everyMs = 10_000, now: () => number = Date.now): DownloadProgress {
  const files = new Map<string, FileState & { loggedAt: number }>();
  return {
    start(file, total, from = 0) {
      const t = now();
      files.set(file, { total, startedAt: t, from, bytes: from, loggedAt: t });
      log.info(from > 0 ? { file, bytes: total, resumeFrom: from } : { file, bytes: total }, from > 0 ? 'resuming download' : 'downloading');
    },
    update(file, bytes) {
      const s = files.get(file);
      if (s === undefined) return;
      s.bytes = bytes;
      const t = now();
      if (t - s.loggedAt < everyMs) return;
      s.loggedAt = t;
      const rate = rateOf(s, t);
      log.info({ file, done: bytes, total: s.total, bytesPerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.round((s.total - bytes) / rate) : null }, 'download progress');
    },
    done(file, bytes) {
      const s = files.get(file);
      files.delete(file);
      log.info({ file, bytes, seconds: s === undefined ? null : (now() - s.startedAt) / 1000 }, 'downloaded');
    },
    retry(file, attempt, reason) {
      log.warn({ file, attempt, reason }, 'download failed; retrying');
    },
  };
}
