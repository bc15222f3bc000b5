package org.mvd.edc.edr;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsonp.JSONPModule;
import jakarta.json.Json;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import org.eclipse.edc.edr.spi.store.EndpointDataReferenceStore;
import org.eclipse.edc.edr.spi.types.EndpointDataReferenceEntry;
import org.eclipse.edc.json.JacksonTypeManager;
import org.eclipse.edc.spi.query.QuerySpec;
import org.eclipse.edc.spi.result.StoreResult;
import org.eclipse.edc.spi.types.domain.DataAddress;
import org.eclipse.edc.transform.TypeTransformerRegistryImpl;
import org.eclipse.edc.transform.transformer.edc.from.JsonObjectFromDataAddressTransformer;
import org.eclipse.edc.web.spi.exception.ObjectNotFoundException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.eclipse.edc.spi.constants.CoreConstants.EDC_NAMESPACE;
import static org.eclipse.edc.spi.constants.CoreConstants.JSON_LD;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EdrApiControllerTest {

    private static final String EDR_TYPE = "https://w3id.org/idsa/v4.1/HTTP";

    /** The store as edr-store-core fills it: one EDR, for transfer "tp-1". */
    private static EndpointDataReferenceStore storeWith(String transferProcessId, DataAddress edr) {
        return new EndpointDataReferenceStore() {
            public StoreResult<DataAddress> resolveByTransferProcess(String id) {
                return id.equals(transferProcessId) ? StoreResult.success(edr) : StoreResult.notFound("no EDR for " + id);
            }

            public EndpointDataReferenceEntry findById(String id) {
                return null;
            }

            public StoreResult<List<EndpointDataReferenceEntry>> query(QuerySpec spec) {
                return StoreResult.success(List.of());
            }

            public StoreResult<EndpointDataReferenceEntry> delete(String id) {
                return StoreResult.notFound(id);
            }

            public StoreResult<Void> save(EndpointDataReferenceEntry entry, DataAddress address) {
                return StoreResult.success();
            }
        };
    }

    private static EdrApiController controller(EndpointDataReferenceStore store) {
        var typeManager = new JacksonTypeManager();
        typeManager.registerContext(JSON_LD, new ObjectMapper().registerModule(new JSONPModule()));
        var registry = new TypeTransformerRegistryImpl();
        registry.register(new JsonObjectFromDataAddressTransformer(Json.createBuilderFactory(Map.of()), typeManager, JSON_LD));
        return new EdrApiController(store, registry.forContext(EdrApiExtension.MANAGEMENT_API_TRANSFORMERS));
    }

    @Test
    void answersTheStoredEdrAsADataAddress() {
        var edr = DataAddress.Builder.newInstance().type(EDR_TYPE)
                .property(EDC_NAMESPACE + "endpoint", "http://localhost:1/api/public")
                .property(EDC_NAMESPACE + "authorization", "token-1")
                .property(EDC_NAMESPACE + "endpointType", EDR_TYPE)
                .build();
        var json = controller(storeWith("tp-1", edr)).getEdrEntryDataAddress("tp-1");
        assertEquals(EDC_NAMESPACE + "DataAddress", json.getString("@type"));
        assertEquals("http://localhost:1/api/public", json.getString(EDC_NAMESPACE + "endpoint"));
        assertEquals("token-1", json.getString(EDC_NAMESPACE + "authorization"));
        assertEquals(EDR_TYPE, json.getString(EDC_NAMESPACE + "endpointType"));
    }

    @Test
    void anUnknownTransferIsNotFound() {
        var controller = controller(storeWith("tp-1", DataAddress.Builder.newInstance().type(EDR_TYPE).build()));
        var missing = assertThrows(ObjectNotFoundException.class, () -> controller.getEdrEntryDataAddress("tp-2"));
        assertEquals(true, missing.getMessage().contains("tp-2"));
    }

    @Test
    void isEdcsOwnReadPath() throws Exception {
        assertEquals("/v3/edrs", EdrApiController.class.getAnnotation(Path.class).value());
        var method = EdrApiController.class.getMethod("getEdrEntryDataAddress", String.class);
        assertEquals("{transferProcessId}/dataaddress", method.getAnnotation(Path.class).value());
        assertEquals(true, method.isAnnotationPresent(GET.class));
    }
}
