package org.mvd.edc.sts;

import org.eclipse.edc.iam.decentralizedclaims.spi.SecureTokenService;
import org.eclipse.edc.iam.decentralizedclaims.sts.remote.RemoteSecureTokenService;
import org.eclipse.edc.iam.decentralizedclaims.sts.remote.StsRemoteClientConfiguration;
import org.eclipse.edc.iam.oauth2.spi.client.Oauth2Client;
import org.eclipse.edc.participantcontext.spi.config.ParticipantContextConfig;
import org.eclipse.edc.runtime.metamodel.annotation.Extension;
import org.eclipse.edc.runtime.metamodel.annotation.Inject;
import org.eclipse.edc.runtime.metamodel.annotation.Provider;
import org.eclipse.edc.runtime.metamodel.annotation.Setting;
import org.eclipse.edc.spi.security.Vault;
import org.eclipse.edc.spi.system.ServiceExtension;

/**
 * Provides the connector's {@link SecureTokenService}: the identity hub's STS, reached with OAuth2 client credentials.
 * Same keys as EDC's own (unpublished) decentralized-claims-sts-remote-client 0.15.1.
 */
@Extension(RemoteStsClientExtension.NAME)
public class RemoteStsClientExtension implements ServiceExtension {

    public static final String NAME = "MVD Remote STS Client";

    @Setting(description = "STS OAuth2 token endpoint, e.g. http://localhost:7096/api/sts/token", key = "edc.iam.sts.oauth.token.url", required = false)
    private static final String TOKEN_URL = "edc.iam.sts.oauth.token.url";
    @Setting(description = "STS OAuth2 client id (the identity hub participant context's clientId)", key = "edc.iam.sts.oauth.client.id", required = false)
    private static final String CLIENT_ID = "edc.iam.sts.oauth.client.id";
    @Setting(description = "Vault alias of the STS OAuth2 client secret", key = "edc.iam.sts.oauth.client.secret.alias", required = false)
    private static final String CLIENT_SECRET_ALIAS = "edc.iam.sts.oauth.client.secret.alias";

    @Inject
    private Oauth2Client oauth2Client;
    @Inject
    private ParticipantContextConfig participantContextConfig;
    @Inject
    private Vault vault;

    @Override
    public String name() {
        return NAME;
    }

    @Provider
    public SecureTokenService secureTokenService() {
        return new RemoteSecureTokenService(oauth2Client, id -> new StsRemoteClientConfiguration(
                participantContextConfig.getString(id, TOKEN_URL),
                participantContextConfig.getString(id, CLIENT_ID),
                participantContextConfig.getString(id, CLIENT_SECRET_ALIAS)), vault);
    }
}
