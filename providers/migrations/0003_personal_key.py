# PersonalKey comes from the accounts app with its rows: the state takes over the existing
# table, which is then renamed to this app's name.

import django.db.models.deletion
import providers.keys.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('providers', '0002_settings_help_text'),
        ('accounts', '0003_personal_key_moves_to_providers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PersonalKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('api_key', providers.keys.fields.EncryptedTextField(verbose_name='API key')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='personal_keys', to='providers.provider')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='personal_keys', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={'db_table': 'accounts_personalkey'},
                ),
                migrations.AddConstraint(
                    model_name='personalkey',
                    constraint=models.UniqueConstraint(fields=('user', 'provider'), name='one_personal_key_each'),
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='personalkey', table=None),
    ]
