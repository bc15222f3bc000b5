package org.mvd.edc.publicapi;

import org.eclipse.edc.connector.dataplane.spi.Endpoint;
import org.eclipse.edc.connector.dataplane.spi.iam.DataPlaneAuthorizationService;
import org.eclipse.edc.connector.dataplane.spi.iam.PublicEndpointGeneratorService;
import org.eclipse.edc.connector.dataplane.spi.pipeline.PipelineService;
import org.eclipse.edc.runtime.metamodel.annotation.Extension;
import org.eclipse.edc.runtime.metamodel.annotation.Inject;
import org.eclipse.edc.runtime.metamodel.annotation.Setting;
import org.eclipse.edc.spi.system.Hostname;
import org.eclipse.edc.spi.system.ServiceExtension;
import org.eclipse.edc.spi.system.ServiceExtensionContext;
import org.eclipse.edc.web.spi.WebService;
import org.eclipse.edc.web.spi.configuration.PortMapping;
import org.eclipse.edc.web.spi.configuration.PortMappingRegistry;

import java.util.concurrent.Executors;

/**
 * The data plane's public API for HttpData pull transfers. EDC 0.15.1 removed its own
 * (data-plane-public-api-v2, deprecated since 0.12) and expects adopters to provide one.
 * Registers the "public" web context and the endpoint that goes into EDRs for destination type HttpData.
 */
@Extension(PublicApiExtension.NAME)
public class PublicApiExtension implements ServiceExtension {

    public static final String NAME = "MVD Data Plane Public API";
    private static final String CONTEXT = "public";

    @Setting(description = "Port of the public API context", key = "web.http.public.port", defaultValue = "8185")
    private int port;
    @Setting(description = "Path of the public API context", key = "web.http.public.path", defaultValue = "/api/public")
    private String path;
    @Setting(description = "Public API URL put into EDRs; default http://<edc.hostname>:<port><path>", key = "edc.dataplane.api.public.baseurl", required = false)
    private String baseUrl;

    @Inject
    private PortMappingRegistry portMappingRegistry;
    @Inject
    private WebService webService;
    @Inject
    private PipelineService pipelineService;
    @Inject
    private DataPlaneAuthorizationService authorizationService;
    @Inject
    private PublicEndpointGeneratorService generatorService;
    @Inject
    private Hostname hostname;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void initialize(ServiceExtensionContext context) {
        portMappingRegistry.register(new PortMapping(CONTEXT, port, path));
        var url = baseUrl != null ? baseUrl : "http://%s:%d%s".formatted(hostname.get(), port, path);
        var endpoint = Endpoint.url(url);
        generatorService.addGeneratorFunction("HttpData", address -> endpoint);
        var executor = Executors.newFixedThreadPool(4);
        webService.registerResource(CONTEXT, new PublicApiController(pipelineService, authorizationService, executor));
        context.getMonitor().info("Public API for HttpData pull at " + url);
    }
}
