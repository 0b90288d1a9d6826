/**
 * A request the tracker refuses. Its message goes to the client verbatim, as the HTTP
 * `failure reason` or the UDP error message, so it must name the problem precisely.
 */
export class ClientError extends Error {
  override readonly name = 'ClientError';
}
