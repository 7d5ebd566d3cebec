// A WeightStore that reads another under other names: checkpoints that put a
// prefix on their tensors (`bert.`, `roberta.`) or leave out one the graph
// expects (`model.` in base-model exports).

import type { F32Tensor, WeightDType, WeightStore } from './types.js';

export class RenamedWeightStore implements WeightStore {
  constructor(
    private readonly inner: WeightStore,
    /** The inner store's name for a name the graph asks for. */
    private readonly toInner: (name: string) => string,
    /** The graph's name for an inner store's name. */
    private readonly fromInner: (name: string) => string,
  ) {}

  names(): string[] {
    return this.inner.names().map(this.fromInner);
  }
  has(name: string): boolean {
    return this.inner.has(this.toInner(name));
  }
  get(name: string): F32Tensor {
    return this.inner.get(this.toInner(name));
  }
  dtypeOf(name: string): WeightDType {
    return this.inner.dtypeOf(this.toInner(name));
  }
}
