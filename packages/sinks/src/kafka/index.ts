import type { SinkModule } from '../sink-module.ts';
import { KafkaSink } from './kafka-sink.ts';
import { kafkaSettingsSchema } from './kafka-settings.ts';
import type { KafkaSettings } from './kafka-settings.ts';

export const kafkaSinkModule: SinkModule<KafkaSettings> = {
  type: 'kafka',
  summary: 'Apache Kafka producer (kafkajs): one produce per batch, keyed by a template, headers priority/rule/source/uuid, acks=all and idempotent',
  settingsSchema: kafkaSettingsSchema,
  create: (settings, deps) => new KafkaSink(settings, deps),
};
export { KafkaSink } from './kafka-sink.ts';
export { kafkaSettingsSchema } from './kafka-settings.ts';
export type { KafkaSettings } from './kafka-settings.ts';
