package testservers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import org.opensearch.cluster.service.ClusterService;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * An OpenSearch node whose plugins are classes on the class path (netty4 transport,
 * analysis-common, painless): no plugins/ or modules/ directories, so no jar-hell scan and no
 * security manager. Used by the test server (EmbeddedOpenSearch) and by the lab's
 * opensearchproject/opensearch stand-in (test/support/containers/standins/opensearch).
 */
public final class PluginNode extends Node {
  static final List<Class<? extends Plugin>> PLUGINS = List.of(
      org.opensearch.transport.Netty4Plugin.class,
      org.opensearch.analysis.common.CommonAnalysisPlugin.class,
      org.opensearch.painless.PainlessPlugin.class);

  /** Node's plugin-taking constructor is protected, hence the subclass. */
  private PluginNode(Environment environment) {
    super(environment, PLUGINS, true);
  }

  @Override
  protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {
    // The production listener feeds the node id into log4j's pattern converter (not set up here).
  }

  /** A node over `home` (its config, plugins, modules, data and logs folders are created). */
  public static Node create(Path home, Settings settings, String nodeName) throws IOException {
    for (String dir : List.of("config", "plugins", "modules", "data", "logs")) {
      Files.createDirectories(home.resolve(dir));
    }
    Environment environment = InternalSettingsPreparer.prepareEnvironment(
        settings, Collections.emptyMap(), home.resolve("config"), () -> nodeName);
    return new PluginNode(environment);
  }
}
