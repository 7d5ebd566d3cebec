// Small deterministic PRNG so generated models are identical on every machine
// and Node version (Math.random is neither seedable nor specified).

/** splitmix32: 32-bit state, good enough statistical quality for test weights. */
export class SplitMix32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Fills `out` with N(0, std²) samples via Box–Muller. */
  fillNormal(out: Float32Array, std: number, mean = 0): void {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.nextFloat(); // (0, 1], keeps log finite
      const u2 = this.nextFloat();
      const r = Math.sqrt(-2 * Math.log(u1)) * std;
      const theta = 2 * Math.PI * u2;
      out[i] = mean + r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = mean + r * Math.sin(theta);
    }
  }
}

/** FNV-1a of a string mixed with a seed: one independent stream per tensor name. */
export function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
