package org.mvd.edc.publicapi;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.Suspended;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import org.eclipse.edc.connector.dataplane.spi.iam.DataPlaneAuthorizationService;
import org.eclipse.edc.connector.dataplane.spi.pipeline.PipelineService;
import org.eclipse.edc.connector.dataplane.util.sink.AsyncStreamingDataSink;
import org.eclipse.edc.spi.types.domain.DataAddress;
import org.eclipse.edc.spi.types.domain.transfer.DataFlowStartMessage;
import org.eclipse.edc.spi.types.domain.transfer.FlowType;
import org.eclipse.edc.spi.types.domain.transfer.TransferType;

import java.util.HashMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;

/**
 * Minimal pull proxy: GET with the EDR's token in the Authorization header streams the asset's source.
 * The token is checked by EDC's {@link DataPlaneAuthorizationService} (signature, expiry, revocation);
 * the source is read by the data plane's pipeline (HttpData source, i.e. data-plane-http).
 */
@Path("{any:.*}")
public class PublicApiController {

    private final PipelineService pipelineService;
    private final DataPlaneAuthorizationService authorizationService;
    private final ExecutorService executor;

    public PublicApiController(PipelineService pipelineService, DataPlaneAuthorizationService authorizationService, ExecutorService executor) {
        this.pipelineService = pipelineService;
        this.authorizationService = authorizationService;
        this.executor = executor;
    }

    @GET
    @Produces(MediaType.WILDCARD)
    public void get(@Context ContainerRequestContext request, @Suspended AsyncResponse response) {
        var token = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (token == null) {
            response.resume(error(Response.Status.UNAUTHORIZED, "Missing Authorization Header"));
            return;
        }
        var requestData = new HashMap<String, Object>();
        requestData.put("headers", request.getHeaders());
        requestData.put("path", request.getUriInfo());
        requestData.put("method", request.getMethod());
        var source = authorizationService.authorize(token, requestData);
        if (source.failed()) {
            response.resume(error(Response.Status.FORBIDDEN, source.getFailureDetail()));
            return;
        }
        var message = DataFlowStartMessage.Builder.newInstance()
                .processId(UUID.randomUUID().toString())
                .sourceDataAddress(source.getContent())
                .destinationDataAddress(DataAddress.Builder.newInstance().type(AsyncStreamingDataSink.TYPE).build())
                .transferType(new TransferType(AsyncStreamingDataSink.TYPE, FlowType.PULL))
                .property("method", "GET")
                .build();
        AsyncStreamingDataSink.AsyncResponseContext context = callback -> {
            StreamingOutput output = out -> callback.outputStreamConsumer().accept(out);
            return response.resume(Response.ok(output).type(callback.mediaType()).build());
        };
        pipelineService.transfer(message, new AsyncStreamingDataSink(context, executor))
                .whenComplete((result, throwable) -> {
                    if (throwable != null) {
                        response.resume(error(Response.Status.INTERNAL_SERVER_ERROR, throwable.getMessage()));
                    } else if (result.failed()) {
                        response.resume(error(Response.Status.INTERNAL_SERVER_ERROR, result.getFailureDetail()));
                    }
                });
    }

    private static Response error(Response.Status status, String message) {
        var body = "{\"error\":\"" + String.valueOf(message).replace("\\", "\\\\").replace("\"", "\\\"") + "\"}";
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(body).build();
    }
}
