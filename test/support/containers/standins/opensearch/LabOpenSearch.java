package standin;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.opensearch.common.settings.Settings;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.Node;
import testservers.PluginNode;

/**
 * The OpenSearch node of the opensearchproject/opensearch stand-in (lab tests only): one node
 * started in this JVM from the Maven jars, configured as the official image is (home
 * /usr/share/opensearch, cluster.name docker-cluster, network.host 0.0.0.0, HTTP 9200) and,
 * like the official entrypoint, from every environment variable whose name looks like a
 * setting (`discovery.type`, `http.port`, `network.host`…). Plugins are classes on the class
 * path (test/servers' PluginNode: netty4 transport, analysis-common, painless): there is no security plugin, so the node
 * always answers plain HTTP without authentication (what DISABLE_SECURITY_PLUGIN=true gives).
 */
public final class LabOpenSearch {
  public static void main(String[] args) throws Exception {
    Path home = Path.of(System.getenv().getOrDefault("OPENSEARCH_HOME", "/usr/share/opensearch"));
    String hostname = System.getenv().getOrDefault("HOSTNAME", "opensearch");
    Settings.Builder settings = Settings.builder()
        .put("cluster.name", "docker-cluster")
        .put("node.name", hostname)
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("network.host", "0.0.0.0")
        .put("http.type", "netty4")
        .put("transport.type", "netty4");
    // The official entrypoint turns such variables into -E options; the same names work here.
    for (Map.Entry<String, String> variable : System.getenv().entrySet()) {
      if (variable.getKey().matches("[a-z0-9_]+\\.[a-z0-9_.]+")) {
        settings.put(variable.getKey(), variable.getValue());
      }
    }
    Node node = PluginNode.create(home, settings.build(), hostname);
    CountDownLatch closed = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
      closed.countDown();
    }, "close-node"));
    node.start();
    HttpServerTransport http = node.injector().getInstance(HttpServerTransport.class);
    System.out.println("stand-in opensearchproject/opensearch: HTTP on " + http.boundAddress().publishAddress());
    System.out.flush();
    // OpenSearch's own threads are daemons: keep the JVM up until SIGTERM (docker stop).
    closed.await();
  }
}
