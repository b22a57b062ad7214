import type { Alert } from '@peregrine/alert';
import { deliveryFor } from '../config/schema.ts';
import type { HubConfig } from '../config/schema.ts';
import type { AlertMatcher } from './matcher.ts';

export interface Route {
  readonly destination: string;
  readonly matches: AlertMatcher;
  /** Alerts per job (the destination's delivery.maxBatch). */
  readonly maxBatch: number;
}

/** Alerts grouped by destination. */
export type Routed = Map<string, Alert[]>;

/** Every destination's matcher, as compiled when the configuration was loaded. */
export class Router {
  readonly routes: readonly Route[];

  constructor(config: HubConfig) {
    this.routes = Object.entries(config.destinations).map(([destination, d]) => ({
      destination,
      matches: d.match.matches,
      maxBatch: deliveryFor(config, d).maxBatch,
    }));
  }

  /** Adds each alert to every destination whose match holds (or to all of them for test alerts). */
  route(alerts: readonly Alert[], everyDestination: boolean, into: Routed): void {
    for (const route of this.routes) {
      let bucket = into.get(route.destination);
      for (const alert of alerts) {
        if (!everyDestination && !route.matches(alert)) continue;
        if (bucket === undefined) {
          bucket = [];
          into.set(route.destination, bucket);
        }
        bucket.push(alert);
      }
    }
  }
}
