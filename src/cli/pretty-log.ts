// --log-format pretty: pino's JSON lines rewritten for a terminal, one line
// each ("12:00:01.234 INFO  msg  key=value …"), without a pretty-printing
// dependency. pino writes every line complete, so each write is parsed alone.

const LEVELS: Readonly<Record<number, [string, string]>> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[35m'],
};
/** Fields every pino line has, shown in the prefix or not at all. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

export class PrettyLog {
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly color: boolean,
  ) {}

  write(line: string): void {
    this.out.write(formatLine(line, this.color));
  }
}

export function formatLine(line: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const [name, tint] = LEVELS[Number(entry.level)] ?? ['LOG  ', ''];
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(entry)
    .filter(([key, value]) => !OMITTED.has(key) && value !== null && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const level = color ? `${tint}${name}\x1b[0m` : name;
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  return `${time} ${level} ${msg}${fields === '' ? '' : `  ${color ? `\x1b[90m${fields}\x1b[0m` : fields}`}\n`;
}
