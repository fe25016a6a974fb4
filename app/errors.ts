// Errors a person caused and can fix: shown as they are, with an HTTP status, never as a stack trace.
export class UserFacingError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}

/**
 * A refusal about particular fields of a form, each message keyed by the field's form name: the page shows the form
 * again with what was typed and each message beside its field. `message` is the whole refusal in one sentence (for
 * the audit log, and for callers that are not forms).
 */
export class FieldErrors extends UserFacingError {
  readonly fields: Readonly<Record<string, string>>;
  constructor(fields: Record<string, string>, message?: string, status = 400) {
    super(message ?? Object.values(fields).join(' '), status);
    this.fields = fields;
  }
}

/** One field refused: `message` belongs beside the field named `name`. */
export function fieldError(name: string, message: string, status = 400): FieldErrors {
  return new FieldErrors({ [name]: message }, message, status);
}

/** `err` as a refusal of field `name`, when it is a person's error (keeps its status and message); anything else as it is. */
export function asFieldError(err: unknown, name: string): unknown {
  return err instanceof UserFacingError && !(err instanceof FieldErrors) ? fieldError(name, err.message, err.status) : err;
}
