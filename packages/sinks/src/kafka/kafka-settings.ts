import { z } from 'zod';
import { clientTlsSettings } from '../http/http-client.ts';
import { templateSource, timeoutMs } from '../settings/common-settings.ts';

/** `host:port`, the form kafkajs (and Falcosidekick's kafka.hostport) takes. */
const brokerAddress = z
  .string()
  .trim()
  .regex(/^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. kafka-0.kafka:9092');

/** A list, or Falcosidekick's comma-separated string (`KAFKA_HOSTPORT=b1:9092,b2:9092`). */
const brokerList = z
  .union([z.array(z.string()), z.string().transform((text) => text.split(',').map((b) => b.trim()).filter((b) => b !== ''))])
  .pipe(z.array(brokerAddress).min(1, 'name at least one broker (host:port)'));

export const kafkaSettingsSchema = z
  .object({
    brokers: brokerList.describe('Bootstrap brokers: a list of host:port, or "b1:9092,b2:9092". Falcosidekick: kafka.hostport'),
    topic: templateSource()
      .pipe(z.string().min(1, 'name a topic'))
      .describe('Topic, or a template of it, e.g. "falco-{{ priority | lower }}" (alerts of one batch may go to several topics in one produce). Falcosidekick: kafka.topic'),
    keyTemplate: templateSource()
      .default('{{ rule }}|{{ output_fields["k8s.pod.name"] | default hostname }}')
      .describe('Message key template. Kafka keeps order per key (one partition), so the default (rule + pod, else host) keeps one workload\'s alerts of a rule in order. Renders empty → no key (the partition is then chosen from the uuid).'),
    clientId: z.string().min(1).default('peregrine').describe('Client id the brokers see. Falcosidekick: kafka.clientid'),
    compression: z
      .string()
      .transform((c) => c.toLowerCase())
      .pipe(z.enum(['none', 'gzip'], { errorMap: () => ({ message: 'must be none or gzip (snappy, lz4 and zstd need codecs this build does not ship)' }) }))
      .default('none')
      .describe('Compression of each produced batch: none or gzip. Falcosidekick: kafka.compression (NONE/GZIP)'),
    requiredAcks: z
      .enum(['all', 'leader'])
      .default('all')
      .describe('all (acks=-1, with the idempotent producer: a retry never writes a batch twice) or leader (acks=1, not idempotent). Falcosidekick: kafka.requiredacks (ALL/ONE; NONE is raised to all).'),
    allowAutoTopicCreation: z.boolean().default(false).describe('Let the brokers create a missing topic on first produce. Falcosidekick: kafka.topiccreation'),
    sasl: z
      .object({
        mechanism: z
          .string()
          // Falcosidekick writes SCRAM_SHA256 / SCRAM_SHA512.
          .transform((m) => m.toLowerCase().replace(/_/g, '-').replace(/^scram-sha-?(256|512)$/, 'scram-sha-$1'))
          .pipe(z.enum(['plain', 'scram-sha-256', 'scram-sha-512'], { errorMap: () => ({ message: 'must be plain, scram-sha-256 or scram-sha-512' }) })),
        username: z.string().min(1),
        password: z.string().min(1),
      })
      .strict()
      .optional()
      .describe('SASL authentication: {mechanism: plain | scram-sha-256 | scram-sha-512, username, password}. Falcosidekick: kafka.sasl (PLAIN, SCRAM_SHA256, SCRAM_SHA512), kafka.username, kafka.password'),
    tls: clientTlsSettings.describe('TLS to the brokers ({} for the system CAs; caFile, certFile/keyFile, checkCert as for the HTTP sinks). Falcosidekick: kafka.tls'),
    timeoutMs: timeoutMs.describe('Time for one produce (the brokers\' acknowledgement included) in ms; the hub\'s abort signal also applies.'),
    connectionTimeoutMs: z.number().int().positive().default(3_000).describe('Time to open a connection to a broker in ms.'),
  })
  .strict();

export type KafkaSettings = z.output<typeof kafkaSettingsSchema>;
