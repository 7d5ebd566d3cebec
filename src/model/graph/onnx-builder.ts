// A minimal in-memory ONNX graph builder over onnx-proto's generated
// protobuf code. Initializers are stored as raw_data views over the caller's
// typed arrays (no per-element JS arrays), so a 200+ MB model serialises with
// one copy, inside protobufjs's Writer.finish().

import onnxProto from 'onnx-proto';
import type { ExternalDataWriter } from './external-data.js';

const { onnx } = onnxProto;

export const DataType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  UINT8: onnx.TensorProto.DataType.UINT8,
  INT64: onnx.TensorProto.DataType.INT64,
  BOOL: onnx.TensorProto.DataType.BOOL,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'string'; value: string };

export const int = (value: number): AttrValue => ({ kind: 'int', value });
export const float = (value: number): AttrValue => ({ kind: 'float', value });
export const ints = (value: number[]): AttrValue => ({ kind: 'ints', value });
export const str = (value: string): AttrValue => ({ kind: 'string', value });

/** A dimension: a fixed size, or a symbolic name (dynamic). */
export type Dim = number | string;

export const MS_DOMAIN = 'com.microsoft';

/** 2 GiB minus headroom for nodes and metadata. */
const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 64 * 2 ** 20;

/** Smaller initializers (shapes, scalars) stay inline: they are what the optimiser constant-folds. */
const EXTERNAL_MIN_BYTES = 4096;

function toAttribute(name: string, a: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();
  private counter = 0;

  /** With a writer, weights go to its file as they arrive; without, into the protobuf. */
  constructor(private readonly external: ExternalDataWriter | null = null) {}

  /** A fresh tensor name with a readable prefix. */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.usedNames.has(name));
    this.usedNames.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.usedNames.has(name)) throw new Error(`duplicate tensor name ${name}`);
    this.usedNames.add(name);
    return name;
  }

  input(name: string, elemType: DataTypeCode, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), elemType, dims));
    return name;
  }

  /** Declares `name` (which some node must produce) as a graph output. */
  output(name: string, elemType: DataTypeCode, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /**
   * Adds a node with one output and returns that output's name.
   * `outputName` names the result explicitly (e.g. a graph output).
   */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputName?: string, domain = ''): string {
    return this.opMulti(opType, inputs, 1, attrs, outputName === undefined ? undefined : [outputName], domain)[0];
  }

  opMulti(
    opType: string,
    inputs: string[],
    numOutputs: number,
    attrs: Record<string, AttrValue> = {},
    outputNames?: string[],
    domain = '',
  ): string[] {
    const outputs = outputNames?.map((n) => this.claim(n)) ?? Array.from({ length: numOutputs }, () => this.fresh(opType));
    this.nodes.push({
      name: `n${this.nodes.length}_${opType}`,
      opType,
      domain,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    });
    return outputs;
  }

  /** A float32 initializer; `data` is referenced, not copied, until serialisation (or written out now). */
  floatTensor(prefix: string, data: Float32Array, dims: number[]): string {
    return this.rawInitializer(prefix, DataType.FLOAT, bytesOf(data), dims, data.length);
  }

  uint8Tensor(prefix: string, data: Uint8Array, dims: number[]): string {
    return this.rawInitializer(prefix, DataType.UINT8, data, dims, data.length);
  }

  int64Tensor(prefix: string, values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.rawInitializer(prefix, DataType.INT64, bytesOf(data), dims, values.length);
  }

  int64Scalar(prefix: string, value: number): string {
    return this.int64Tensor(prefix, [value], []);
  }

  floatScalar(prefix: string, value: number): string {
    return this.floatTensor(prefix, Float32Array.of(value), []);
  }

  private rawInitializer(prefix: string, dataType: DataTypeCode, raw: Uint8Array, dims: number[], count: number): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== count) throw new Error(`initializer ${prefix}: ${count} elements for dims [${dims}]`);
    const name = this.fresh(prefix);
    if (this.external !== null && raw.byteLength >= EXTERNAL_MIN_BYTES) {
      const at = this.external.append(raw);
      this.initializers.push({
        name,
        dataType,
        dims,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: at.file },
          { key: 'offset', value: String(at.offset) },
          { key: 'length', value: String(at.length) },
        ],
      });
    } else {
      this.initializers.push({ name, dataType, dims, rawData: raw });
    }
    return name;
  }

  /** Serialises a ModelProto (IR 8, opset 17 + com.microsoft 1). */
  toModelBytes(graphName: string): Uint8Array {
    // protobuf (and so ORT's parser) caps a message at 2 GiB; weights in an
    // external-data file do not count.
    const initializerBytes = this.initializers.reduce((sum, t) => sum + (t.rawData?.byteLength ?? 0), 0);
    if (initializerBytes > PROTOBUF_LIMIT_BYTES) {
      throw new Error(
        `graph ${graphName}: ${(initializerBytes / 2 ** 30).toFixed(2)} GiB of weights exceeds protobuf's 2 GiB limit ` +
          '(build it with an external-data writer)',
      );
    }
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: 'serval',
      opsetImport: [
        { domain: '', version: 17 },
        { domain: MS_DOMAIN, version: 1 },
      ],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: DataTypeCode, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
