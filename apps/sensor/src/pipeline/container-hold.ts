/**
 * Alerts of a container whose metadata is still being looked up wait for it,
 * a bounded time; events never wait. The registry learns a new container
 * asynchronously (poll or first lookup), so a container's very first alert
 * would otherwise print `<NA>` for container.name, image, k8s.* …
 *
 * How an alert is rendered again once the metadata lands: the event itself
 * is gone by then (state tables move on), so when an alert is held its rule's
 * output is rendered once more through a recording extractor that keeps every
 * value the format reads (output_fields and transformer arguments alike).
 * At release the same format is rendered from those recorded values, except
 * container.* and k8s.*, which are read from the container's metadata as it
 * is then. The alert keeps its uuid and its event time.
 *
 * Order: per container, alerts leave in the order they were raised (a later
 * alert of a container with held ones queues behind them even when the
 * metadata is known by then). Host alerts, and alerts of containers already
 * known, pass at once. A container whose lookup timed out is not waited for
 * again for a while (`giveUpMs`), so one with no runtime to ask costs one
 * wait, not one per alert. At most `maxHeld` alerts wait; past that they go
 * out at once as they are (counted). Nothing held is lost: `drain()` emits
 * what waits, as it is, when the sensor stops.
 */
import type { Alert } from '@peregrine/alert';
import { createAlertBuilder, type EngineRule, type FieldExtractor, type FieldRef, type FieldValue } from '@peregrine/rules';
import type { ContainerInfo } from '../containers/index.ts';
import type { SyscallEvent } from '../extract/syscall-event.ts';
import { syscallExtractor } from '../extract/syscall-extractor.ts';

/** What the hold needs of the container registry (ContainerRegistry satisfies it). */
export interface ContainerWait {
  /** Never blocks: the metadata known now, or undefined while a lookup is under way. */
  info(id: string): ContainerInfo | undefined;
  /** Resolves with the metadata when it lands, or undefined after `timeoutMs`. */
  whenKnown(id: string, timeoutMs: number): Promise<ContainerInfo | undefined>;
}

export interface ContainerHoldOptions {
  /** Longest an alert waits for its container's metadata. @defaultValue 2000 */
  readonly maxWaitMs?: number;
  /** Alerts waiting at most, all containers together. @defaultValue 10000 */
  readonly maxHeld?: number;
  /** After a wait timed out, alerts of that container pass at once for this long. @defaultValue 60000 */
  readonly giveUpMs?: number;
}

export interface ContainerHoldStats {
  /** Alerts that waited. */
  held: number;
  /** Of those, released with the container's metadata. */
  releasedWithMetadata: number;
  /** Of those, released without it (the wait timed out, or the sensor stopped). */
  releasedWithout: number;
  /** Alerts that would have waited but went out at once: maxHeld reached. */
  overflow: number;
  /** Alerts waiting now. */
  waiting: number;
}

/** The rules' side of a held alert: how to render one rule's output again. */
export interface AlertRerenderer {
  /** Renders `rule`'s alert for `event` while recording every value its output reads. */
  record(rule: string, event: SyscallEvent): RecordedAlertValues | undefined;
  /** The rule's alert from recorded values, container.* and k8s.* from `info`. */
  replay(recorded: RecordedAlertValues, info: ContainerInfo | undefined): Alert;
}

/** One held alert's recorded field values (opaque outside this module). */
export interface RecordedAlertValues {
  readonly rule: string;
  readonly containerId: string;
  readonly values: Map<string, FieldValue>;
}

/** The event a held alert is rendered from: live while recording, recorded values at release. */
interface HeldEvent {
  live: SyscallEvent | undefined;
  readonly recorded: RecordedAlertValues;
  info: ContainerInfo | undefined;
}

const isContainerField = (ref: FieldRef): boolean => ref.name.startsWith('container.') || ref.name.startsWith('k8s.');
const keyOf = (ref: FieldRef): string => `${ref.name}\u0000${ref.arg ?? ''}\u0000${ref.isList ? 'l' : 's'}`;

/**
 * An extractor over held events: while recording, the syscall extractor's
 * value (kept); at release, the kept value, or for container.* / k8s.* the
 * syscall extractor's accessor over a view that has only the container.
 */
function heldExtractor(inner: FieldExtractor<SyscallEvent>): FieldExtractor<HeldEvent> {
  return {
    accessor(ref: FieldRef) {
      const get = inner.accessor(ref);
      const key = keyOf(ref);
      if (isContainerField(ref)) {
        return (h) => {
          if (h.live) return get(h.live);
          // The container accessors read only containerId and container.
          const view = { containerId: h.recorded.containerId, container: h.info } as unknown as SyscallEvent;
          return get(view);
        };
      }
      return (h) => {
        if (!h.live) return h.recorded.values.get(key);
        const v = get(h.live);
        h.recorded.values.set(key, v);
        return v;
      };
    },
  };
}

/** A rerenderer for one loaded rule set (the same alert builder options as compileRules uses). */
export function createAlertRerenderer(rules: readonly EngineRule[], opts: { readonly hostname: string }): AlertRerenderer {
  const byName = new Map<string, EngineRule>();
  for (const r of rules) if (r.enabled && r.source === 'syscall') byName.set(r.name, r);
  const extractor = heldExtractor(syscallExtractor());
  // Built on first use: holding is rare (a container's first moments), most rules never need it.
  const builders = new Map<string, (e: HeldEvent) => Alert>();
  const builderOf = (name: string): ((e: HeldEvent) => Alert) | undefined => {
    let b = builders.get(name);
    if (!b) {
      const rule = byName.get(name);
      if (!rule) return undefined;
      b = createAlertBuilder(rule, extractor, { hostname: opts.hostname });
      builders.set(name, b);
    }
    return b;
  };
  return {
    record(rule, event) {
      const build = builderOf(rule);
      if (!build) return undefined;
      const recorded: RecordedAlertValues = { rule, containerId: event.containerId, values: new Map() };
      build({ live: event, recorded, info: undefined });
      return recorded;
    },
    replay(recorded, info) {
      return builderOf(recorded.rule)!({ live: undefined, recorded, info });
    },
  };
}

interface Waiting {
  readonly alert: Alert;
  readonly recorded: RecordedAlertValues | undefined;
  readonly rerenderer: AlertRerenderer | undefined;
}

/** The gate between rules and outputs. */
export class ContainerAlertHold {
  readonly #containers: ContainerWait;
  readonly #emit: (alert: Alert) => void;
  readonly #maxWaitMs: number;
  readonly #maxHeld: number;
  readonly #giveUpMs: number;
  /** Per container id, the alerts waiting, oldest first. */
  readonly #queues = new Map<string, Waiting[]>();
  /** Containers not waited for again until the time given (ms epoch). */
  readonly #gaveUp = new Map<string, number>();
  #waiting = 0;
  readonly #stats = { held: 0, releasedWithMetadata: 0, releasedWithout: 0, overflow: 0 };

  constructor(containers: ContainerWait, emit: (alert: Alert) => void, opts: ContainerHoldOptions = {}) {
    this.#containers = containers;
    this.#emit = emit;
    this.#maxWaitMs = opts.maxWaitMs ?? 2000;
    this.#maxHeld = opts.maxHeld ?? 10_000;
    this.#giveUpMs = opts.giveUpMs ?? 60_000;
  }

  /**
   * One alert of `event`, raised by rule `alert.rule`: emitted now, or held
   * until its container's metadata is known (or the wait ends).
   */
  offer(alert: Alert, event: SyscallEvent, rerenderer: AlertRerenderer | undefined): void {
    const id = event.containerId;
    if (id === 'host') return this.#emit(alert);
    const queue = this.#queues.get(id);
    if (!queue) {
      if (this.#containers.info(id) !== undefined || !rerenderer) return this.#emit(alert);
      const until = this.#gaveUp.get(id);
      if (until !== undefined) {
        if (Date.now() < until) return this.#emit(alert);
        this.#gaveUp.delete(id);
      }
    }
    if (this.#waiting >= this.#maxHeld) {
      // Never lose an alert: past the bound it goes as it is. A container with waiting alerts
      // keeps its order by letting its queue go first.
      this.#stats.overflow++;
      if (queue) this.#release(id, this.#containers.info(id));
      return this.#emit(alert);
    }
    const recorded = rerenderer?.record(alert.rule, event);
    this.#stats.held++;
    this.#waiting++;
    if (queue) {
      queue.push({ alert, recorded, rerenderer });
      return;
    }
    this.#queues.set(id, [{ alert, recorded, rerenderer }]);
    void this.#containers.whenKnown(id, this.#maxWaitMs).then(
      (info) => this.#release(id, info),
      () => this.#release(id, undefined),
    );
  }

  /** Emits every waiting alert now, with whatever metadata is known (the sensor is stopping). */
  drain(): void {
    for (const id of [...this.#queues.keys()]) this.#release(id, this.#containers.info(id));
  }

  stats(): ContainerHoldStats {
    return { ...this.#stats, waiting: this.#waiting };
  }

  #release(id: string, info: ContainerInfo | undefined): void {
    const queue = this.#queues.get(id);
    if (!queue) return;
    this.#queues.delete(id);
    if (!info) {
      this.#gaveUp.set(id, Date.now() + this.#giveUpMs);
      if (this.#gaveUp.size > 4096) this.#gaveUp.delete(this.#gaveUp.keys().next().value as string);
    }
    for (const w of queue) {
      this.#waiting--;
      if (info) this.#stats.releasedWithMetadata++;
      else this.#stats.releasedWithout++;
      let out = w.alert;
      if (info && w.recorded && w.rerenderer) {
        try {
          const fresh = w.rerenderer.replay(w.recorded, info);
          // The same alert, now with its container's fields: it keeps its identity.
          out = { ...fresh, uuid: w.alert.uuid };
        } catch {
          out = w.alert; // rendering again failed: the alert as first rendered is still right, if less complete
        }
      }
      this.#emit(out);
    }
  }
}
