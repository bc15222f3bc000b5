package org.mvd.edc.edr;

import jakarta.json.JsonObject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import org.eclipse.edc.edr.spi.store.EndpointDataReferenceStore;
import org.eclipse.edc.edr.spi.types.EndpointDataReferenceEntry;
import org.eclipse.edc.spi.EdcException;
import org.eclipse.edc.spi.result.ServiceResult;
import org.eclipse.edc.transform.spi.TypeTransformerRegistry;

import static jakarta.ws.rs.core.MediaType.APPLICATION_JSON;
import static org.eclipse.edc.web.spi.exception.ServiceResultHandler.exceptionMapper;

/**
 * {@code GET /v3/edrs/{transferProcessId}/dataaddress}: the EDR the consumer stored when its pull transfer started
 * (endpoint, authorization, endpointType), as EDC's EdrCacheApiV3Controller answers it; 404 when there is none (yet).
 */
@Produces(APPLICATION_JSON)
@Path("/v3/edrs")
public class EdrApiController {

    private final EndpointDataReferenceStore edrStore;
    private final TypeTransformerRegistry transformers;

    public EdrApiController(EndpointDataReferenceStore edrStore, TypeTransformerRegistry transformers) {
        this.edrStore = edrStore;
        this.transformers = transformers;
    }

    @GET
    @Path("{transferProcessId}/dataaddress")
    public JsonObject getEdrEntryDataAddress(@PathParam("transferProcessId") String transferProcessId) {
        var dataAddress = edrStore.resolveByTransferProcess(transferProcessId)
                .flatMap(ServiceResult::from)
                .orElseThrow(exceptionMapper(EndpointDataReferenceEntry.class, transferProcessId));
        return transformers.transform(dataAddress, JsonObject.class)
                .orElseThrow(failure -> new EdcException(failure.getFailureDetail()));
    }
}
