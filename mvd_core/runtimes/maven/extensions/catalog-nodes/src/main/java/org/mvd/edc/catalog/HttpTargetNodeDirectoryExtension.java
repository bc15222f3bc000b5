package org.mvd.edc.catalog;

import org.eclipse.edc.crawler.spi.TargetNodeDirectory;
import org.eclipse.edc.runtime.metamodel.annotation.Extension;
import org.eclipse.edc.runtime.metamodel.annotation.Inject;
import org.eclipse.edc.runtime.metamodel.annotation.Provider;
import org.eclipse.edc.runtime.metamodel.annotation.Setting;
import org.eclipse.edc.spi.system.ServiceExtension;
import org.eclipse.edc.spi.system.ServiceExtensionContext;
import org.eclipse.edc.spi.types.TypeManager;

import java.net.URI;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Provides the federated catalog's {@link TargetNodeDirectory} from the participant list the control plane serves.
 */
@Extension(HttpTargetNodeDirectoryExtension.NAME)
public class HttpTargetNodeDirectoryExtension implements ServiceExtension {

    public static final String NAME = "MVD HTTP Target Node Directory";

    @Setting(description = "URL of the JSON participant list [{name,id,url,supportedProtocols}]", key = "edc.catalog.nodes.url")
    private String url;

    @Setting(description = "Comma separated node ids never crawled", key = "edc.catalog.nodes.exclude", required = false)
    private String exclude;

    @Inject
    private TypeManager typeManager;

    private HttpTargetNodeDirectory directory;

    @Override
    public String name() {
        return NAME;
    }

    @Provider
    public TargetNodeDirectory targetNodeDirectory(ServiceExtensionContext context) {
        if (directory == null) {
            Set<String> excluded = Arrays.stream((exclude == null ? "" : exclude).split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toSet());
            directory = new HttpTargetNodeDirectory(URI.create(url), typeManager.getMapper(), context.getMonitor().withPrefix("CatalogNodes"), excluded);
        }
        return directory;
    }
}
