package org.mvd.edc.vault;

import org.eclipse.edc.spi.monitor.Monitor;
import org.eclipse.edc.spi.result.Result;
import org.eclipse.edc.spi.security.Vault;
import org.jetbrains.annotations.Nullable;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Pattern;

/**
 * A vault backed by a directory: one file per secret, file name = secret name, content = the value
 * (the layout of the control plane's local file vault). Vault partitions are ignored: one directory
 * serves one runtime.
 * <p>
 * Names outside {@code [A-Za-z0-9-]{1,127}} (EDC components sometimes derive aliases from DIDs, e.g.
 * {@code did:web:...-sts-client-secret}) are stored under {@code x-<base32 of the name, lower case, no padding>}
 * so that they stay valid file names for the control plane's vault too.
 */
public class FileVault implements Vault {

    static final Pattern VALID_NAME = Pattern.compile("^[0-9A-Za-z-]{1,127}$");

    private final Path root;
    private final Monitor monitor;

    public FileVault(Path root, Monitor monitor) {
        this.root = root;
        this.monitor = monitor;
    }

    /**
     * The file name a secret name is kept under.
     */
    public static String fileName(String key) {
        if (VALID_NAME.matcher(key).matches()) {
            return key;
        }
        return "x-" + base32(key.getBytes(StandardCharsets.UTF_8));
    }

    private static String base32(byte[] data) {
        var alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var out = new StringBuilder();
        int buffer = 0;
        int bits = 0;
        for (byte b : data) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5) {
                out.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
                bits -= 5;
            }
        }
        if (bits > 0) {
            out.append(alphabet.charAt((buffer << (5 - bits)) & 31));
        }
        return out.toString();
    }

    private Path pathOf(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("secret name must not be empty");
        }
        var name = fileName(key);
        if (name.length() > 127) {
            throw new IllegalArgumentException("secret name too long for the file vault: " + key);
        }
        return root.resolve(name);
    }

    @Override
    public @Nullable String resolveSecret(String key) {
        try {
            return Files.readString(pathOf(key), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            monitor.debug("FileVault: no secret '%s'".formatted(key));
            return null;
        } catch (IOException | IllegalArgumentException e) {
            monitor.warning("FileVault: cannot read secret '%s': %s".formatted(key, e.getMessage()));
            return null;
        }
    }

    @Override
    public Result<Void> storeSecret(String key, String value) {
        try {
            var target = pathOf(key);
            Files.createDirectories(root);
            var tmp = Files.createTempFile(root, "." + target.getFileName() + ".", ".tmp");
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
                Files.writeString(tmp, value, StandardCharsets.UTF_8);
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
            return Result.success();
        } catch (IOException | IllegalArgumentException e) {
            return Result.failure("FileVault: cannot store secret '%s': %s".formatted(key, e.getMessage()));
        }
    }

    @Override
    public Result<Void> deleteSecret(String key) {
        try {
            return Files.deleteIfExists(pathOf(key)) ? Result.success() : Result.failure("Secret with key " + key + " does not exist");
        } catch (IOException | IllegalArgumentException e) {
            return Result.failure("FileVault: cannot delete secret '%s': %s".formatted(key, e.getMessage()));
        }
    }

    // partitions are ignored: one directory per runtime
    @Override
    public @Nullable String resolveSecret(@Nullable String vaultPartition, String key) {
        return resolveSecret(key);
    }

    @Override
    public Result<Void> storeSecret(@Nullable String vaultPartition, String key, String value) {
        return storeSecret(key, value);
    }

    @Override
    public Result<Void> deleteSecret(@Nullable String vaultPartition, String key) {
        return deleteSecret(key);
    }

}
