package org.mvd.edc.edr;

import org.eclipse.edc.edr.spi.store.EndpointDataReferenceStore;
import org.eclipse.edc.jsonld.spi.JsonLd;
import org.eclipse.edc.runtime.metamodel.annotation.Extension;
import org.eclipse.edc.runtime.metamodel.annotation.Inject;
import org.eclipse.edc.spi.system.ServiceExtension;
import org.eclipse.edc.spi.system.ServiceExtensionContext;
import org.eclipse.edc.spi.types.TypeManager;
import org.eclipse.edc.transform.spi.TypeTransformerRegistry;
import org.eclipse.edc.web.jersey.providers.jsonld.JerseyJsonLdInterceptor;
import org.eclipse.edc.web.spi.WebService;
import org.eclipse.edc.web.spi.configuration.ApiContext;

import static org.eclipse.edc.api.management.ManagementApi.MANAGEMENT_SCOPE;
import static org.eclipse.edc.spi.constants.CoreConstants.JSON_LD;

/**
 * The read path of EDC's EDR management API, {@code GET /v3/edrs/{transferProcessId}/dataaddress}, on the
 * management context (its API key, its JSON-LD compaction). EDC 0.15.1 declares edr-cache-api but Maven Central
 * does not have it; the EDRs themselves are stored by edr-store-core/edr-store-receiver, which are there.
 * Registered as EdrCacheApiExtension (0.15.1) registers its v3 controller.
 */
@Extension(EdrApiExtension.NAME)
public class EdrApiExtension implements ServiceExtension {

    public static final String NAME = "MVD Management API: EDR data addresses";
    // the transformer registry context of the management API (ManagementApiConfigurationExtension registers the
    // DataAddress -> JsonObject transformer there)
    static final String MANAGEMENT_API_TRANSFORMERS = "management-api";

    @Inject
    private WebService webService;
    @Inject
    private TypeTransformerRegistry transformerRegistry;
    @Inject
    private EndpointDataReferenceStore edrStore;
    @Inject
    private JsonLd jsonLd;
    @Inject
    private TypeManager typeManager;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void initialize(ServiceExtensionContext context) {
        var transformers = transformerRegistry.forContext(MANAGEMENT_API_TRANSFORMERS);
        webService.registerResource(ApiContext.MANAGEMENT, new EdrApiController(edrStore, transformers));
        webService.registerDynamicResource(ApiContext.MANAGEMENT, EdrApiController.class,
                new JerseyJsonLdInterceptor(jsonLd, typeManager, JSON_LD, MANAGEMENT_SCOPE));
    }
}
