package org.mvd.edc.catalog;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import org.eclipse.edc.spi.monitor.Monitor;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

class HttpTargetNodeDirectoryTest {

    @Test
    void readsListAndKeepsLastGoodOnError() throws Exception {
        var status = new AtomicInteger(200);
        var body = """
                [{"name":"a","id":"did:web:a","url":"http://localhost:1/api/dsp","supportedProtocols":["dataspace-protocol-http:2025-1"],"extra":1},
                 {"name":"b","id":"did:web:b","url":"http://localhost:2/api/dsp"},
                 {"name":"broken"}]""";
        var server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/participants", ex -> {
            var bytes = body.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status.get(), bytes.length);
            ex.getResponseBody().write(bytes);
            ex.close();
        });
        server.start();
        try {
            var url = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/participants");
            var dir = new HttpTargetNodeDirectory(url, new ObjectMapper(), new Monitor() {
            }, Set.of("did:web:b"));
            var nodes = dir.getAll();
            assertEquals(1, nodes.size());
            assertEquals("did:web:a", nodes.get(0).id());
            assertEquals("http://localhost:1/api/dsp", nodes.get(0).targetUrl());
            assertEquals(List.of("dataspace-protocol-http:2025-1"), nodes.get(0).supportedProtocols());
            status.set(500);
            assertEquals(1, dir.getAll().size());
        } finally {
            server.stop(0);
        }
    }
}
