// The adapter's errors, shared by the socket layer and the stores. Messages name the bad value,
// never a session id or a payload.

/** An adapter error; `code` is the close code it ends a connection with. */
export class ResumeError extends Error {
  constructor(kind, message, code) {
    super(message);
    this.name = 'ResumeError';
    this.kind = kind;
    this.code = code;
  }
}

export const protocolError = (m) => new ResumeError('protocol', `resume protocol error: ${m}`, 1002);
export const superseded = () => new ResumeError('superseded', 'the session was resumed on another connection', 4409);
export const gone = () => new ResumeError('gone', 'the session is gone (expired or ended)', 1011);
export const tooManySessions = (limit) => new ResumeError('full', `session limit reached (${limit} sessions)`, 1013);
export const bufferFull = (messages, bytes) =>
  new ResumeError('full', `resend buffer full (${messages} messages, ${bytes} bytes buffered)`, 1011);
export const tooLarge = (size, limit) => new ResumeError('too-large', `message of ${size} bytes, at most ${limit} allowed`, 1009);
/** A store that failed (Redis unreachable, ...): 1011, the client retries. */
export const storeError = (e) => new ResumeError('store', `session store error: ${e?.message ?? e}`, 1011);
