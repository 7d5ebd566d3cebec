// Errors raised by the IPC layer. They are programming or lifecycle errors
// (never user-facing HTTP errors), so they carry a stable `code` for logs.

/** A frame can never fit the ring, however long the producer waits. */
export class FrameTooLargeError extends RangeError {
  readonly code = 'IPC_FRAME_TOO_LARGE';
  constructor(
    readonly frameBytes: number,
    readonly maxFrameBytes: number,
  ) {
    super(
      `IPC frame of ${frameBytes} bytes exceeds the ring's largest frame ` +
        `(${maxFrameBytes} bytes); create the ring with a larger capacity`,
    );
    this.name = 'FrameTooLargeError';
  }
}

/** The ring was closed by either end; pending and future writes fail. */
export class RingClosedError extends Error {
  readonly code = 'IPC_RING_CLOSED';
  constructor() {
    super('IPC ring is closed');
    this.name = 'RingClosedError';
  }
}

/** A frame decoded to something that is not a message for this direction. */
export class IpcProtocolError extends Error {
  readonly code = 'IPC_PROTOCOL';
  constructor(message: string) {
    super(message);
    this.name = 'IpcProtocolError';
  }
}
