export interface ImageRef {
  readonly raw: string
}
