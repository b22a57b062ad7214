package testservers;

import java.io.InputStream;
import java.lang.reflect.Method;
import java.util.Arrays;

/**
 * Runs another main class and exits when standard input reaches end-of-file.
 *
 * The TypeScript starters spawn the JVM servers with a pipe on stdin and never write to it:
 * when the test process goes away for any reason (even SIGKILL) the pipe closes and the
 * server follows, so no broker or search node outlives the test run that started it.
 * Usage: java -cp ... testservers.ExitWithParent <main class> [args...]
 */
public final class ExitWithParent {
  private ExitWithParent() {}

  /** Starts the watcher thread; System.exit runs the server's own shutdown hooks. */
  public static void watchStdin() {
    Thread watcher = new Thread(() -> {
      InputStream in = System.in;
      byte[] buffer = new byte[256];
      try {
        while (in.read(buffer) >= 0) {
          // Nothing is ever written; keep reading until the pipe closes.
        }
      } catch (Exception ignored) {
        // A broken pipe means the parent is gone, the same as end-of-file.
      }
      System.exit(0);
    }, "exit-with-parent");
    watcher.setDaemon(true);
    watcher.start();
  }

  public static void main(String[] args) throws Throwable {
    if (args.length == 0) {
      System.err.println("usage: testservers.ExitWithParent <main class> [args...]");
      System.exit(2);
    }
    watchStdin();
    Method main = Class.forName(args[0]).getMethod("main", String[].class);
    try {
      main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
    } catch (java.lang.reflect.InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
