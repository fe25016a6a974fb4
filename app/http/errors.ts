// Unknown routes get 404; bad input 400; oversized bodies 413; anything else 500 without details.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../log.ts';
import { UserFacingError } from '../errors.ts';
import { renderError } from './render.ts';

export const notFound: RequestHandler = (req, res) => {
  renderError(req, res, { status: 404, title: 'Not found', message: 'There is no page at this address.' });
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof UserFacingError) {
      const title = err.status === 404 ? 'Not found' : err.status === 409 ? 'Conflict' : err.status === 403 ? 'Not allowed' : 'Please check your input';
      return renderError(req, res, { status: err.status, title, message: err.message });
    }
    const status = typeof err?.status === 'number' ? err.status : 500;
    if (status === 413) {
      return renderError(req, res, { status, title: 'Too large', message: 'What you sent is larger than this node accepts.' });
    }
    if (status >= 400 && status < 500) {
      return renderError(req, res, { status, title: 'Bad request', message: 'The request could not be read. Reload the page and try again.' });
    }
    log.error({ err, method: req.method, url: req.originalUrl }, 'request failed');
    renderError(req, res, { status: 500, title: 'Something went wrong', message: 'The node hit an error. It has been logged; try again in a moment.' });
  };
}
