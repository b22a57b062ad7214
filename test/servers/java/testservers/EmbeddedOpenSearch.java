package testservers;

import java.nio.file.Path;
import org.opensearch.common.settings.Settings;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.Node;

/**
 * One OpenSearch node in this JVM, for the integration tests: single-node discovery, HTTP and
 * transport on 127.0.0.1 only, the plugins given as classes on the classpath (PluginNode).
 * Usage: EmbeddedOpenSearch <home dir> <http port, 0 = any free one>
 * Prints "OPENSEARCH LISTENING <host:port>" once HTTP is bound; exits when stdin closes.
 */
public final class EmbeddedOpenSearch {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: testservers.EmbeddedOpenSearch <home dir> <http port>");
      System.exit(2);
    }
    ExitWithParent.watchStdin();
    Path home = Path.of(args[0]).toAbsolutePath();
    Settings settings = Settings.builder()
        .put("cluster.name", "peregrine-test")
        .put("node.name", "n1")
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("discovery.type", "single-node")
        .put("network.host", "127.0.0.1")
        .put("http.port", args[1])
        .put("transport.port", "0")
        .put("http.type", "netty4")
        .put("transport.type", "netty4")
        // Without this a nearly full disk turns indices read-only mid-test (flood stage).
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .put("node.store.allow_mmap", false)
        .build();
    Node node = PluginNode.create(home, settings, "n1");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
    }, "close-node"));
    node.start();
    HttpServerTransport http = node.injector().getInstance(HttpServerTransport.class);
    System.out.println("OPENSEARCH LISTENING " + http.boundAddress().publishAddress());
    System.out.flush();
    // OpenSearch's own threads are daemons: keep the JVM up until System.exit (stdin closed, SIGTERM).
    new java.util.concurrent.CountDownLatch(1).await();
  }
}
