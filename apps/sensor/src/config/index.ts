// The sensor's configuration: schema, loading with key-path errors, reference generation.
export { sensorConfigSchema, type SensorConfig, type SensorConfigInput } from './schema.ts';
export { loadSensorConfig, parseSensorConfig, rulesFilesOf, DEFAULT_RULES_FILE, SensorConfigError, type SensorConfigIssue, type ConfigOverrides } from './load.ts';
export { sensorConfigReference } from './reference.ts';
