import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerIdForCgroupPath, matchCgroupPath, matchProcCgroup, parseProcCgroup } from '../src/containers/cgroup.ts';
import { splitImageReference } from '../src/containers/image.ts';

const HEX = '7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8';

// Real-world cgroup paths (the container plugin's own test vectors, and what
// runc/containerd/dockerd write on this machine), with the 12-char id Falco prints.
const containers: Array<[name: string, path: string, id: string, type: string]> = [
  ['docker, cgroupfs', `/docker/${HEX}`, '7951fb549ab9', 'docker'],
  ['docker, systemd', `/docker.slice/docker-${HEX}.scope`, '7951fb549ab9', 'docker'],
  ['docker, systemd under system.slice', `/system.slice/docker-${HEX}.scope`, '7951fb549ab9', 'docker'],
  ['containerd CRI, cgroupfs', '/kubepods/besteffort/podac04f3f2-1f2c-11e9-b015-1ebee232acfa/605439acbd4fb18c145069289094b17f17e0cfa938f78012d4960bc797305f22', '605439acbd4f', 'containerd'],
  ['containerd CRI, cgroupfs, guaranteed QoS', `/kubepods/podac04f3f2-1f2c-11e9-b015-1ebee232acfa/${HEX}`, '7951fb549ab9', 'containerd'],
  ['containerd CRI, systemd', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podac04f3f2_1f2c_11e9_b015_1ebee232acfa.slice/cri-containerd-${HEX}.scope`, '7951fb549ab9', 'containerd'],
  ['containerd CRI without SystemdCgroup', '/kubepods-burstable-podbd12dd3393227d950605a2444b13c27a.slice:cri-containerd:d52db56a9c80d536a91354c0951c061187ca46249e64865a12703003d8f42366', 'd52db56a9c80', 'containerd'],
  ['cri-o, cgroupfs', '/kubepods/besteffort/pod63b3ebfc-2890-11e9-8154-16bf8ef8d9dc/crio-73bfe475650de66df8e2affdc98d440dcbe84f8df83b6f75a68a82eb7026136a', '73bfe475650d', 'cri-o'],
  ['cri-o, systemd', '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod63b3ebfc_2890_11e9_8154_16bf8ef8d9dc.slice/crio-17d8c9eacc629f9945f304d89e9708c0c619649a484a215b240628319548a09f.scope', '17d8c9eacc62', 'cri-o'],
  ['podman root, scope', `/machine.slice/libpod-${HEX}.scope`, '7951fb549ab9', 'podman'],
  ['podman root, scope/container (cgroup v2 nested)', `/machine.slice/libpod-${HEX}.scope/container`, '7951fb549ab9', 'podman'],
  ['podman rootless, no scope', `/user.slice/user-1000.slice/user@1000.service/libpod-${HEX}`, '7951fb549ab9', 'podman'],
  ['podman split cgroup mode', `/system.slice/ceph-x@mon.service/libpod-payload-${HEX}.scope`, '7951fb549ab9', 'podman'],
  ['nerdctl, systemd', `/system.slice/nerdctl-${HEX}.scope`, '7951fb549ab9', 'containerd'],
  ['nerdctl, cgroupfs (namespace default, hex id)', `/default/${HEX}`, '7951fb549ab9', 'containerd'],
  ['ctr run, namespace default', '/default/test_container', 'test_contain', 'containerd'],
  ['ctr run, namespace k8s.io', '/k8s.io/my-test_container', 'my-test_cont', 'containerd'],
  ['ctr run, one-character name', '/default/a', 'a', 'containerd'],
  ['ctr run, unit-like word not at the end', '/default/service.container', 'service.cont', 'containerd'],
];

for (const [name, path, id, type] of containers) {
  test(`cgroup → container: ${name}`, () => {
    const match = matchCgroupPath(path);
    assert.ok(match, `expected a container for ${path}`);
    assert.equal(match.id, id);
    assert.equal(match.type, type);
    assert.equal(containerIdForCgroupPath(path), id);
  });
}

const hosts: Array<[name: string, path: string]> = [
  ['root', '/'],
  ['empty', ''],
  ["this machine's own 32-hex memory cgroup", '/process_api/0123456789abcdef0123456789abcdef'],
  ['systemd init scope', '/user.slice/user-1000.slice/user@1000.service/init.scope'],
  ['systemd service', '/system.slice/ssh.service'],
  ['id over 64 characters', `/user.slice/user-1000.slice/user@1000.service/libpod-${HEX}${HEX}`],
  ['non-hex 64-character id', `/user.slice/user-1000.slice/user@1000.service/libpod-${HEX.slice(0, 63)}g`],
  ['non-hex 64 characters after a long prefix', `/kubepods/besteffort/pod63b3ebfc-2890-11e9-8154-16bf8ef8d9dc/crio-${'z'.repeat(64)}`],
  ['63 hex characters', `/docker/${HEX.slice(1)}`],
  ['containerd unit suffix .service', '/default/some_short_id.service'],
  ['containerd unit suffix .slice', '/default/some_short_id.slice'],
  ['containerd unit suffix .scope', '/default/some_short_id.scope'],
  ['containerd bare unit suffix', '/default/.scope'],
  ['the kubepods parent itself', '/kubepods/besteffort/podac04f3f2-1f2c-11e9-b015-1ebee232acfa'],
  ['the docker parent itself', '/docker'],
  ['an unconfigured two-level cgroup', '/my.namespace/container.name'],
  ['three levels under a containerd namespace', '/default/a/b'],
];

for (const [name, path] of hosts) {
  test(`cgroup → host: ${name}`, () => {
    assert.equal(matchCgroupPath(path), undefined);
    assert.equal(containerIdForCgroupPath(path), 'host');
  });
}

test('plain containerd namespaces are configurable (the plugin accepts any; we accept the listed ones)', () => {
  const options = { containerdNamespaces: ['my.namespace', 'my_very_long_namespace-1.5'] };
  assert.equal(matchCgroupPath('/my.namespace/container.name', options)?.id, 'container.na');
  assert.equal(matchCgroupPath('/my_very_long_namespace-1.5/test_container', options)?.id, 'test_contain');
  assert.equal(matchCgroupPath('/default/test_container', options), undefined);
});

test('/proc/<pid>/cgroup, hybrid v1 + v2: the container line wins, the host memory cgroup is host', () => {
  const container = [
    '13:hugetlb:/',
    `12:memory:/docker/${HEX}`,
    `11:cpu,cpuacct:/docker/${HEX}`,
    `1:name=systemd:/docker/${HEX}`,
    '0::/',
  ].join('\n');
  assert.deepEqual(matchProcCgroup(container), { id: '7951fb549ab9', fullId: HEX, type: 'docker' });
  const host = ['12:memory:/process_api/0123456789abcdef0123456789abcdef', '11:cpu,cpuacct:/', '0::/', ''].join('\n');
  assert.equal(matchProcCgroup(host), undefined);
  const lines = parseProcCgroup(container);
  assert.equal(lines.length, 5);
  assert.deepEqual(lines[2], { hierarchyId: 11, controllers: ['cpu', 'cpuacct'], path: `/docker/${HEX}` });
  assert.deepEqual(lines[4], { hierarchyId: 0, controllers: [], path: '/' });
});

test('/proc/<pid>/cgroup, pure cgroup v2', () => {
  const text = `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1_2.slice/cri-containerd-${HEX}.scope\n`;
  assert.equal(matchProcCgroup(text)?.id, '7951fb549ab9');
  assert.equal(matchProcCgroup('0::/init.scope\n'), undefined);
});

test('/proc/<pid>/cgroup: garbage lines are skipped, not fatal', () => {
  assert.deepEqual(parseProcCgroup('nonsense\nx:y:/z\n4:memory:/a\n'), [{ hierarchyId: 4, controllers: ['memory'], path: '/a' }]);
});

test('image reference → repository and tag, like Falco (registry ports, digests)', () => {
  const cases: Array<[string, string, string]> = [
    ['registry.example.com:5000/foo/bar:latest@sha256:abc', 'registry.example.com:5000/foo/bar', 'latest'],
    ['registry.example.com:5000/foo/bar@sha256:abc', 'registry.example.com:5000/foo/bar', ''],
    ['registry.example.com:5000/foo/bar:latest', 'registry.example.com:5000/foo/bar', 'latest'],
    ['registry.example.com:5000/foo/bar', 'registry.example.com:5000/foo/bar', ''],
    ['foo/bar:latest', 'foo/bar', 'latest'],
    ['foo:latest', 'foo', 'latest'],
    ['docker.io/library/busybox:1.36', 'docker.io/library/busybox', '1.36'],
    ['busybox', 'busybox', ''],
    ['', '', ''],
  ];
  for (const [image, repository, tag] of cases) assert.deepEqual(splitImageReference(image), { repository, tag }, image);
});
