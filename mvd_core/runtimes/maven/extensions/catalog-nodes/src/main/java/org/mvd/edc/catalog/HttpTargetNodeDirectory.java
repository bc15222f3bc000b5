package org.mvd.edc.catalog;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.eclipse.edc.crawler.spi.TargetNode;
import org.eclipse.edc.crawler.spi.TargetNodeDirectory;
import org.eclipse.edc.spi.monitor.Monitor;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The dataspace's participant list, read from an HTTP URL on every {@link #getAll()} (the crawler calls it once
 * per run). The document is a JSON array of objects {@code {"name", "id", "url", "supportedProtocols"}}, the
 * fields of {@link TargetNode}; unknown fields are ignored. If the URL cannot be read, the last good list is used.
 * Nodes inserted at run time are kept in memory next to it; ids listed in {@code excluded} are never returned.
 */
public class HttpTargetNodeDirectory implements TargetNodeDirectory {

    private final URI url;
    private final ObjectMapper mapper;
    private final Monitor monitor;
    private final Set<String> excluded;
    private final HttpClient client;
    private final Map<String, TargetNode> inserted = new ConcurrentHashMap<>();
    private volatile List<TargetNode> lastGood = List.of();

    public HttpTargetNodeDirectory(URI url, ObjectMapper mapper, Monitor monitor, Set<String> excluded) {
        this.url = url;
        this.mapper = mapper;
        this.monitor = monitor;
        this.excluded = excluded;
        // HTTP/1.1: the default (HTTP/2) sends an h2c upgrade request that plain HTTP servers log as unsupported
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @Override
    public List<TargetNode> getAll() {
        var nodes = new ArrayList<TargetNode>();
        nodes.addAll(fetch());
        nodes.addAll(inserted.values());
        return nodes.stream().filter(n -> !excluded.contains(n.id())).toList();
    }

    @Override
    public void insert(TargetNode node) {
        inserted.put(node.id(), node);
    }

    @Override
    public TargetNode remove(String id) {
        return inserted.remove(id);
    }

    List<TargetNode> fetch() {
        try {
            var request = HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(10)).header("Accept", "application/json").GET().build();
            var response = client.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                monitor.warning("Participant list %s answered %d, using the last good list".formatted(url, response.statusCode()));
                return lastGood;
            }
            lastGood = parse(response.body());
            return lastGood;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            monitor.warning("Participant list %s cannot be read (%s), using the last good list".formatted(url, e.getMessage()));
            return lastGood;
        }
    }

    @SuppressWarnings("unchecked")
    List<TargetNode> parse(String json) throws Exception {
        var entries = mapper.readValue(json, new TypeReference<List<Map<String, Object>>>() {
        });
        var nodes = new ArrayList<TargetNode>();
        for (var e : entries) {
            var id = (String) e.get("id");
            var targetUrl = (String) e.get("url");
            if (id == null || targetUrl == null) {
                monitor.warning("Participant list entry without id or url ignored: " + e);
                continue;
            }
            var name = (String) e.getOrDefault("name", id);
            var protocols = e.get("supportedProtocols") instanceof Collection<?> c ? c.stream().map(String::valueOf).toList() : List.<String>of();
            nodes.add(new TargetNode(name, id, targetUrl, protocols));
        }
        return nodes;
    }
}
