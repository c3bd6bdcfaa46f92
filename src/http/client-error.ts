/**
 * Errors node's HTTP parser raises before a request reaches the app (a
 * request that did not arrive within the timeout, headers over the size
 * limit, malformed HTTP) are answered as problem+json too, then the
 * connection closes. Node's own answer would be a bare status line.
 */
import type { Socket } from 'node:net';
import { problemBody, ProblemError } from './problem.js';

const ANSWERS: Record<string, () => ProblemError> = {
  ERR_HTTP_REQUEST_TIMEOUT: () =>
    new ProblemError(408, 'request-timeout', 'Request Timeout', 'The request did not arrive in time (KEYSYNC_REQUEST_TIMEOUT_MS)'),
  HPE_HEADER_OVERFLOW: () => new ProblemError(431, 'headers-too-large', 'Request Header Fields Too Large', 'The request line and headers exceed 16 KiB'),
};

interface ClientErrorSource {
  on(event: 'clientError', listener: (err: Error & { code?: string }, socket: Socket) => void): unknown;
}

export function answerClientErrors(server: ClientErrorSource): void {
  server.on('clientError', (err, socket) => {
    // As node does: answer only on a connection that has not started another answer.
    if (err.code !== 'ECONNRESET' && socket.writable && socket.bytesWritten === 0) {
      const problem = (ANSWERS[err.code ?? ''] ?? (() => new ProblemError(400, 'bad-request', 'Bad Request', 'The request is not valid HTTP')))();
      const body = JSON.stringify(problemBody(problem));
      socket.end(
        `HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroySoon();
  });
}
