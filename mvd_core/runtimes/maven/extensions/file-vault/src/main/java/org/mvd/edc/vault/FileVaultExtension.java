package org.mvd.edc.vault;

import org.eclipse.edc.runtime.metamodel.annotation.Extension;
import org.eclipse.edc.runtime.metamodel.annotation.Provider;
import org.eclipse.edc.runtime.metamodel.annotation.Setting;
import org.eclipse.edc.spi.EdcException;
import org.eclipse.edc.spi.security.Vault;
import org.eclipse.edc.spi.system.ServiceExtension;
import org.eclipse.edc.spi.system.ServiceExtensionContext;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Provides a {@link FileVault} over the directory named by {@code edc.vault.file.path}.
 */
@Extension(FileVaultExtension.NAME)
public class FileVaultExtension implements ServiceExtension {

    public static final String NAME = "MVD File Vault";

    @Setting(description = "Directory holding one file per secret (file name = secret name, content = value)", key = "edc.vault.file.path")
    private String path;

    @Override
    public String name() {
        return NAME;
    }

    @Provider
    public Vault fileVault(ServiceExtensionContext context) {
        var root = Path.of(path).toAbsolutePath();
        if (!Files.isDirectory(root)) {
            throw new EdcException("edc.vault.file.path is not a directory: " + root);
        }
        context.getMonitor().info("Using the file vault at " + root);
        return new FileVault(root, context.getMonitor());
    }
}
