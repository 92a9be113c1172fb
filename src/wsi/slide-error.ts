// One error class for everything that can go wrong with one slide, so that a batch run can record
// the failure against that slide (path + kind + reason) and carry on with the next one.

export type SlideErrorKind =
  /** The file does not exist or cannot be read. */
  | 'not-found'
  /** No reader recognises the file (not a slide format OpenSlide knows, not a plain image). */
  | 'unsupported'
  /** A reader recognised the file but it is damaged: truncated, bad tiles, bad metadata. */
  | 'corrupt'
  /** The system OpenSlide library could not be loaded. */
  | 'library-missing'
  /** A bad request: level out of range, negative size, region too large, unknown associated image. */
  | 'bad-request'
  /** The slide was used after close(). */
  | 'closed'
  /** Segmentation found no tissue that passes the filters. */
  | 'no-tissue';

export class SlideError extends Error {
  constructor(
    readonly path: string,
    readonly kind: SlideErrorKind,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'SlideError';
  }
}
