/**
 * Alerts of a new container wait for its metadata (issue 9: events are never
 * held up, alerts may wait): on a real kernel with a real Docker container,
 * the registry's runtime answers are held back (the real providers, wrapped:
 * a slow runtime), and the container's first alerts come out once the
 * metadata lands, in order, with container.name/image; a host alert raised
 * meanwhile does not wait. When the runtime stays silent past the bound, the
 * alert goes out anyway, without the metadata, and none is lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startContainerRuntimes, type ContainerRuntimes } from '@peregrine/testkit';
import { dockerExec, fieldText, LiveHarness, runAction } from './live-harness.ts';

const PEREGRINE_RULES = fileURLToPath(new URL('../../../packages/rules/rules/peregrine_rules.yaml', import.meta.url));
const CONTAINER_FIELDS_RULES = fileURLToPath(new URL('./fixtures/container_fields_rules.yaml', import.meta.url));
const RULE = 'Marked shell with container fields';

let env: ContainerRuntimes;
let harness: LiveHarness | undefined;

before(async () => {
  env = await startContainerRuntimes();
});

after(async () => {
  await harness?.close();
  await env?.stop();
});

/** A gate: every runtime answer waits until the test opens it. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open };
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a new container: its alerts wait for the metadata (in order), a host alert does not', async () => {
  const slow = gate();
  const h = (harness = LiveHarness.start({
    rules: [PEREGRINE_RULES, CONTAINER_FIELDS_RULES],
    containers: { dockerSockets: [env.dockerSocket], criSockets: [env.containerdSocket] },
    answerDelay: slow.wait,
    alertWaitMs: 120_000, // longer than the test: only the metadata releases these alerts
  }));
  try {
    const c = await env.runDockerContainer({ name: `hold-${process.pid}` });
    const id = c.id.slice(0, 12);
    const first = `pg-meta-${randomUUID()}`;
    const second = `pg-meta-${randomUUID()}`;
    assert.equal(await dockerExec(env, c.id, ['sh', '-c', `echo ${first}`]), 0);
    await until('the first container alert to wait', () => (h.holdStats?.waiting ?? 0) >= 1);
    assert.equal(await dockerExec(env, c.id, ['sh', '-c', `echo ${second}`]), 0);
    await until('the second container alert to wait', () => (h.holdStats?.waiting ?? 0) >= 2);

    // Meanwhile a host shell alerts at once.
    const hostMarker = `pg-meta-${randomUUID()}`;
    const run = await runAction('/bin/sh', ['-c', `echo ${hostMarker}`]);
    const host = await h.waitFor(RULE, { pid: run.pid });
    assert.equal(host.length, 1, h.describe({ pid: run.pid }));
    assert.equal(fieldText(host[0]!.alert, 'container.id'), 'host');
    assert.equal(h.alertsFor(RULE, { containerId: id, marker: first }).length, 0, 'the container alert is still waiting');

    slow.open();
    const late = await h.waitFor(RULE, { containerId: id, marker: second });
    assert.equal(late.length, 1, h.describe({ containerId: id, marker: second }));
    const early = h.alertsFor(RULE, { containerId: id, marker: first });
    assert.equal(early.length, 1);
    const order = h.recorded.filter((r) => r.containerId === id && r.alert.rule === RULE);
    assert.deepEqual(
      order.map((r) => (r.cmdline.includes(first) ? 'first' : r.cmdline.includes(second) ? 'second' : 'other')).filter((x) => x !== 'other'),
      ['first', 'second'],
      'per container, alerts leave in the order they were raised',
    );
    for (const r of [early[0]!, late[0]!]) {
      assert.equal(fieldText(r.alert, 'container.id'), id);
      assert.equal(fieldText(r.alert, 'container.name'), c.name);
      assert.equal(fieldText(r.alert, 'container.image.repository'), 'local/busybox');
      assert.equal(fieldText(r.alert, 'container.privileged'), 'false');
      assert.match(r.alert.output, new RegExp(`container_name=${c.name} image=local/busybox privileged=false`), 'the output text is rendered again too');
      assert.match(r.alert.output, new RegExp(`command=sh -c echo pg-meta-`), 'the fields of the event are the ones recorded when it matched');
    }
    // Every alert of the container, whatever rule, came out with the metadata.
    for (const r of h.recorded.filter((x) => x.containerId === id)) {
      if ('container.name' in r.alert.output_fields) assert.equal(fieldText(r.alert, 'container.name'), c.name, r.alert.rule);
    }
    const stats = h.holdStats!;
    assert.ok(stats.releasedWithMetadata >= 2, JSON.stringify(stats));
    assert.equal(stats.waiting, 0);
  } finally {
    slow.open();
    await h.close();
    harness = undefined;
  }
});

test('a runtime that stays silent: the alert goes out after the bound, without metadata, none lost', async () => {
  const silent = gate();
  const h = (harness = LiveHarness.start({
    rules: [PEREGRINE_RULES, CONTAINER_FIELDS_RULES],
    containers: { dockerSockets: [env.dockerSocket], criSockets: [env.containerdSocket] },
    answerDelay: silent.wait,
    alertWaitMs: 1500,
  }));
  try {
    const c = await env.runDockerContainer({ name: `hold-silent-${process.pid}` });
    const id = c.id.slice(0, 12);
    const marker = `pg-meta-${randomUUID()}`;
    assert.equal(await dockerExec(env, c.id, ['sh', '-c', `echo ${marker}`]), 0);
    const hits = await h.waitFor(RULE, { containerId: id, marker }, { timeoutMs: 20_000 });
    assert.equal(hits.length, 1, h.describe({ containerId: id, marker }));
    assert.equal(fieldText(hits[0]!.alert, 'container.id'), id);
    assert.equal(fieldText(hits[0]!.alert, 'container.name'), '<NA>', 'no metadata: Falco prints <NA>');
    const stats = h.holdStats!;
    assert.ok(stats.releasedWithout >= 1, JSON.stringify(stats));
    // The container is not waited for again for a while: the next alert goes at once.
    const next = `pg-meta-${randomUUID()}`;
    const heldBefore = stats.held;
    assert.equal(await dockerExec(env, c.id, ['sh', '-c', `echo ${next}`]), 0);
    assert.equal((await h.waitFor(RULE, { containerId: id, marker: next })).length, 1);
    assert.equal(h.holdStats!.held, heldBefore, 'a container given up on is not waited for again');
  } finally {
    silent.open();
    await h.close();
    harness = undefined;
  }
});
