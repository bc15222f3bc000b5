package org.mvd.edc.ih;

import org.eclipse.edc.identityhub.spi.authentication.ServicePrincipal;
import org.eclipse.edc.identityhub.spi.participantcontext.ParticipantContextService;
import org.eclipse.edc.identityhub.spi.participantcontext.model.KeyDescriptor;
import org.eclipse.edc.identityhub.spi.participantcontext.model.ParticipantManifest;
import org.eclipse.edc.runtime.metamodel.annotation.Extension;
import org.eclipse.edc.runtime.metamodel.annotation.Inject;
import org.eclipse.edc.runtime.metamodel.annotation.Setting;
import org.eclipse.edc.spi.EdcException;
import org.eclipse.edc.spi.monitor.Monitor;
import org.eclipse.edc.spi.security.Vault;
import org.eclipse.edc.spi.system.ServiceExtension;
import org.eclipse.edc.spi.system.ServiceExtensionContext;

import java.util.List;
import java.util.Map;

/**
 * Creates the identity hub's admin participant context at start (IdentityHub 0.15.1 ships no way to create the
 * first admin). Its API key lives in the vault under {@code edc.ih.superuser.key.alias}: if the vault already
 * holds a key there (format {@code base64(superuser id).<random>}), that key is kept; otherwise the generated one is
 * left there for the control plane to read. The key never appears in settings or logs.
 */
@Extension(SuperUserSeedExtension.NAME)
public class SuperUserSeedExtension implements ServiceExtension {

    public static final String NAME = "MVD Identity Hub Super-User Seed";

    @Setting(description = "Participant context id of the admin", key = "edc.ih.superuser.id", defaultValue = "super-user")
    private String superUserId;
    @Setting(description = "Vault alias of the admin's identity API key", key = "edc.ih.superuser.key.alias", defaultValue = "ih-superuser-apikey")
    private String keyAlias;

    @Inject
    private ParticipantContextService participantContextService;
    @Inject
    private Vault vault;

    private Monitor monitor;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void initialize(ServiceExtensionContext context) {
        monitor = context.getMonitor();
    }

    @Override
    public void start() {
        if (participantContextService.getParticipantContext(superUserId).succeeded()) {
            return;
        }
        var existingKey = vault.resolveSecret(keyAlias);
        participantContextService.createParticipantContext(ParticipantManifest.Builder.newInstance()
                        .participantContextId(superUserId)
                        .did("did:web:" + superUserId)
                        .active(true)
                        .apiKeyAlias(keyAlias)
                        .key(KeyDescriptor.Builder.newInstance()
                                .keyGeneratorParams(Map.of("algorithm", "EdDSA", "curve", "Ed25519"))
                                .keyId(superUserId + "-key")
                                .privateKeyAlias(superUserId + "-key")
                                .build())
                        .roles(List.of(ServicePrincipal.ROLE_ADMIN))
                        .build())
                .orElseThrow(f -> new EdcException("Cannot create the super-user: " + f.getFailureDetail()));
        if (existingKey != null) {
            vault.storeSecret(keyAlias, existingKey).orElseThrow(f -> new EdcException("Cannot keep the super-user key: " + f.getFailureDetail()));
        }
        monitor.info("Super-user '%s' created; its API key is in the vault under '%s'".formatted(superUserId, keyAlias));
    }
}
