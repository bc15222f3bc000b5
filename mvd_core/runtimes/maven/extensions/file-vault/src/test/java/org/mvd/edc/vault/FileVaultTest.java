package org.mvd.edc.vault;

import org.eclipse.edc.spi.monitor.Monitor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileVaultTest {

    private final Monitor monitor = new Monitor() {
    };

    @Test
    void readsWhatTheControlPlaneWrote(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("participant-a-key"), "-----BEGIN PRIVATE KEY-----\nabc\n");
        var vault = new FileVault(dir, monitor);
        assertEquals("-----BEGIN PRIVATE KEY-----\nabc\n", vault.resolveSecret("participant-a-key"));
        assertEquals("-----BEGIN PRIVATE KEY-----\nabc\n", vault.resolveSecret("some-partition", "participant-a-key"));
        assertNull(vault.resolveSecret("missing"));
    }

    @Test
    void storesAndDeletes(@TempDir Path dir) throws Exception {
        var vault = new FileVault(dir, monitor);
        assertTrue(vault.storeSecret("sts-secret", "s3cr3t").succeeded());
        assertEquals("s3cr3t", Files.readString(dir.resolve("sts-secret")));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("sts-secret"))));
        assertTrue(vault.storeSecret("sts-secret", "other").succeeded());
        assertEquals("other", vault.resolveSecret("sts-secret"));
        assertTrue(vault.deleteSecret("sts-secret").succeeded());
        assertFalse(vault.deleteSecret("sts-secret").succeeded());
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void mapsNamesTheControlPlaneCannotHold(@TempDir Path dir) {
        var vault = new FileVault(dir, monitor);
        var key = "did:web:localhost%3A7093-sts-client-secret";
        assertTrue(vault.storeSecret(key, "v").succeeded());
        var name = FileVault.fileName(key);
        assertTrue(FileVault.VALID_NAME.matcher(name).matches(), name);
        assertTrue(Files.exists(dir.resolve(name)));
        assertEquals("v", vault.resolveSecret(key));
        assertEquals("x-me5ge", FileVault.fileName("a:b"));
        assertEquals("plain-name", FileVault.fileName("plain-name"));
    }
}
