/**
 * What list and watch return, shared by every resource API, the informer and FakeKubernetes:
 * a consistent snapshot with its resourceVersion, and watch events after such a version.
 */
import { Data } from "effect"

export interface ListResult<A> {
  readonly items: ReadonlyArray<A>
  /** Watch from here to see every change after the snapshot. */
  readonly resourceVersion: string
}

export type WatchEvent<A> = Data.TaggedEnum<{
  Added: { readonly object: A }
  Modified: { readonly object: A }
  Deleted: { readonly object: A }
  /** The server's progress marker (allowWatchBookmarks): resume from here, nothing changed. */
  Bookmark: { readonly resourceVersion: string }
}>

interface WatchEventDefinition extends Data.TaggedEnum.WithGenerics<1> {
  readonly taggedEnum: WatchEvent<this["A"]>
}

export const WatchEvent = Data.taggedEnum<WatchEventDefinition>()
