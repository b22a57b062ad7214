import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { splitImageReference } from './image.ts';
import { shortContainerId } from './types.ts';
import type { ContainerInfo, ContainerMetadataProvider, LookupResult } from './types.ts';
import { keepShortLabels, podFieldsFromLabels, rfc3339ToEpochNs } from './util.ts';

export interface DockerProviderOptions {
  /** Per request. @defaultValue 5000 (as the container plugin's CRI client) */
  readonly timeoutMs?: number;
  /** Labels with longer values are left out (the plugin's `label_max_len`). @defaultValue 100 */
  readonly labelMaxLength?: number;
}

interface DockerInspect {
  Id: string;
  Name?: string;
  Created?: string;
  Image?: string;
  State?: { StartedAt?: string; Pid?: number; Running?: boolean };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  HostConfig?: { Privileged?: boolean };
}

interface DockerImageInspect {
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
}

/**
 * Container metadata from the Docker Engine API on a unix socket
 * (`GET /containers/<id>/json`, `GET /images/<image>/json`, `GET /containers/json`).
 */
export class DockerMetadataProvider implements ContainerMetadataProvider {
  readonly name: string;
  private readonly timeoutMs: number;
  private readonly labelMaxLength: number;

  constructor(
    readonly socketPath: string,
    options: DockerProviderOptions = {},
  ) {
    this.name = `docker:${socketPath}`;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.labelMaxLength = options.labelMaxLength ?? 100;
  }

  async list(): Promise<string[] | undefined> {
    if (!existsSync(this.socketPath)) return undefined;
    const answer = await this.get('/containers/json');
    if (answer.status !== 200 || !Array.isArray(answer.body)) throw new Error(`${this.name}: GET /containers/json → ${answer.status}`);
    return (answer.body as Array<{ Id?: unknown }>).map((c) => c.Id).filter((id): id is string => typeof id === 'string');
  }

  async inspect(id: string): Promise<LookupResult> {
    if (!existsSync(this.socketPath)) return { kind: 'absent' };
    const answer = await this.get(`/containers/${encodeURIComponent(id)}/json`);
    if (answer.status === 404) return { kind: 'not-found' };
    if (answer.status !== 200 || typeof answer.body !== 'object' || answer.body === null) {
      throw new Error(`${this.name}: GET /containers/${id}/json → ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    const container = answer.body as DockerInspect;
    const image = container.Config?.Image ?? '';
    const { repository, tag } = await this.repositoryAndTag(image);
    const labels = keepShortLabels(container.Config?.Labels ?? {}, this.labelMaxLength);
    const info: ContainerInfo = {
      id: shortContainerId(container.Id),
      fullId: container.Id,
      type: 'docker',
      ...(container.Name ? { name: container.Name.replace(/^\//, '') } : {}),
      ...(image ? { image } : {}),
      ...(repository ? { imageRepository: repository } : {}),
      ...(tag ? { imageTag: tag } : {}),
      privileged: container.HostConfig?.Privileged === true,
      labels,
      ...podFieldsFromLabels(labels),
    };
    const startTs = rfc3339ToEpochNs(container.Created ?? '') ?? rfc3339ToEpochNs(container.State?.StartedAt ?? '');
    if (startTs !== undefined) info.startTs = startTs;
    return { kind: 'found', info };
  }

  /**
   * Like the plugin: repository from the image's first repo digest (else its
   * first repo tag), tag from the repo tag of that repository; the reference
   * itself when the image cannot be inspected.
   */
  private async repositoryAndTag(image: string): Promise<{ repository: string; tag: string }> {
    const fallback = splitImageReference(image);
    if (image === '') return fallback;
    const answer = await this.get(`/images/${encodeURIComponent(image)}/json`).catch(() => undefined);
    if (!answer || answer.status !== 200 || typeof answer.body !== 'object' || answer.body === null) return fallback;
    const inspected = answer.body as DockerImageInspect;
    let repository = '';
    for (const repoDigest of inspected.RepoDigests ?? []) {
      const parts = repoDigest.split('@');
      if (parts.length === 2 && repository === '') repository = parts[0] ?? '';
    }
    let tag = '';
    for (const repoTag of inspected.RepoTags ?? []) {
      const split = splitImageReference(repoTag);
      if (repository === '') repository = split.repository;
      if (tag === '' && repoTag.includes(repository)) tag = split.tag;
    }
    return repository === '' ? fallback : { repository, tag: tag || fallback.tag };
  }

  private get(path: string): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method: 'GET', path, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown = text;
          try {
            body = JSON.parse(text) as unknown;
          } catch {
            // keep the text: it goes into the error message
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${this.name}: GET ${path} got no answer in ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(new Error(`${this.name}: GET ${path}: ${e.message}`)));
      req.end();
    });
  }

  close(): void {
    // One request per call, nothing kept open.
  }
}
