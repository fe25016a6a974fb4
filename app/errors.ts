// Errors a person caused and can fix: shown as they are, with an HTTP status, never as a stack trace.
export class UserFacingError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}
