// WeightStore over tensors that are already in memory (random test weights,
// or a checkpoint someone converted eagerly).

import { ModelLoadError } from './errors.js';
import type { F32Tensor, WeightDType, WeightStore } from './types.js';

export class MapWeightStore implements WeightStore {
  private readonly tensors: Map<string, F32Tensor>;
  private readonly dtypes: Map<string, WeightDType>;
  /** Named in errors so a missing tensor points somewhere meaningful. */
  private readonly source: string;

  constructor(
    tensors: Map<string, F32Tensor>,
    dtypes: Map<string, WeightDType> = new Map(),
    source = '<in-memory weights>',
  ) {
    this.tensors = tensors;
    this.dtypes = dtypes;
    this.source = source;
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): F32Tensor {
    const tensor = this.tensors.get(name);
    if (tensor === undefined) throw new ModelLoadError(this.source, name, 'tensor not found');
    return tensor;
  }

  dtypeOf(name: string): WeightDType {
    if (!this.tensors.has(name)) throw new ModelLoadError(this.source, name, 'tensor not found');
    return this.dtypes.get(name) ?? 'F32';
  }
}
